//! `GET /openapi.json`: the API's OpenAPI 3.1 document, kept as a file next to the
//! route table and checked against it by the test below, so the two cannot drift.

use crate::reply::Reply;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn reply() -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: DOCUMENT.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes::RESOURCES;
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn documents_exactly_the_routes_the_router_serves() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (path.clone(), m.to_uppercase()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = RESOURCES
            .iter()
            .flat_map(|r| {
                r.ops
                    .iter()
                    .map(move |(m, _)| (r.pattern.to_string(), m.to_string()))
            })
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_reference_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let pointer = r.strip_prefix('#').unwrap();
                        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
                    }
                    map.values().for_each(|c| walk(c, doc));
                }
                Value::Array(items) => items.iter().for_each(|c| walk(c, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }

    #[test]
    fn protected_operations_require_bearer_auth() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let public = matches!(path.as_str(), "/health" | "/openapi.json");
                let security = op["security"].as_array().unwrap();
                assert_eq!(security.is_empty(), public, "{method} {path}");
            }
        }
    }
}
