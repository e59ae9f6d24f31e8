//! `Reply`: the response a handler produces, independent of the Workers runtime so
//! handlers and errors render the same way under `cargo test` and in workerd.

use serde::Serialize;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Reply {
        Reply::serialized(status, "application/json", value)
    }

    /// A body that is JSON already (a constant).
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }
    }

    /// An RFC 9457 problem document for an error, with the headers its status calls for.
    pub fn problem(err: &ApiError) -> Reply {
        let mut reply = Reply::serialized(err.status(), "application/problem+json", &err.problem());
        reply.headers.extend(err.headers());
        reply
    }

    fn serialized(status: u16, content_type: &'static str, value: &impl Serialize) -> Reply {
        // Serializing our own response types cannot fail (no maps with non-string
        // keys, no failing Serialize impls); an empty body would still be a reply.
        let body = serde_json::to_vec(value).unwrap_or_default();
        Reply {
            status,
            headers: vec![("content-type", content_type.into())],
            body,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The headers as one string, name and value on alternate lines, for `respond`.
    /// `None` if a name or value holds a line break or NUL (the runtime refuses those
    /// anyway): joined, it would shift the pairs and smuggle in a header of its own.
    pub fn head_lines(&self) -> Option<String> {
        let mut head = String::with_capacity(256);
        for (name, value) in &self.headers {
            if [name, value.as_str()]
                .iter()
                .any(|part| part.contains(['\n', '\r', '\0']))
            {
                return None;
            }
            if !head.is_empty() {
                head.push('\n');
            }
            head.push_str(name);
            head.push('\n');
            head.push_str(value);
        }
        Some(head)
    }
}

// One call into JavaScript per response instead of one per header plus the init
// object's: the headers travel as one string, name and value on alternate lines.
// Header names and values can hold no line break (the runtime refuses them), so the
// pairs cannot shift; `head_lines` refuses them before joining.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function respond(status, head, body) {
  const headers = new Headers();
  if (head !== '') {
    const lines = head.split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) headers.append(lines[i], lines[i + 1]);
  }
  return new Response(body === undefined ? null : body, { status, headers });
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn respond(
        status: u16,
        head: &str,
        body: Option<&[u8]>,
    ) -> Result<web_sys::Response, wasm_bindgen::JsValue>;
}

#[cfg(target_arch = "wasm32")]
impl Reply {
    pub fn into_response(self) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
        let head = self
            .head_lines()
            .ok_or("a header with a line break or NUL")?;
        let body = (!self.body.is_empty()).then_some(self.body.as_slice());
        respond(self.status, &head, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_travel_as_alternate_lines() {
        let reply = Reply::empty(204)
            .with_header("etag", "\"3\"")
            .with_header("x-empty", "")
            .with_header("location", "/api/tasks/3");
        assert_eq!(
            reply.head_lines().as_deref(),
            Some("etag\n\"3\"\nx-empty\n\nlocation\n/api/tasks/3")
        );
        assert_eq!(Reply::empty(204).head_lines().as_deref(), Some(""));
        assert_eq!(reply.header("location"), Some("/api/tasks/3"));
        assert_eq!(reply.header("vary"), None);
    }

    #[test]
    fn a_line_break_or_nul_in_a_header_is_refused_not_joined() {
        // Joined, "a\nset-cookie\nx" would become a header of its own.
        for bad in ["/api/u\nset-cookie\nx/tasks/1", "a\rb", "a\0b"] {
            let reply = Reply::empty(201).with_header("location", bad);
            assert_eq!(reply.head_lines(), None, "{bad:?}");
        }
    }
}
