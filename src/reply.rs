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
}

#[cfg(target_arch = "wasm32")]
impl Reply {
    pub fn into_response(mut self) -> Result<web_sys::Response, wasm_bindgen::JsValue> {
        let headers = web_sys::Headers::new()?;
        for (name, value) in &self.headers {
            headers.append(name, value)?;
        }
        let init = web_sys::ResponseInit::new();
        init.set_status(self.status);
        init.set_headers_headers(&headers);
        if self.body.is_empty() {
            web_sys::Response::new_with_opt_str_and_init(None, &init)
        } else {
            web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut self.body), &init)
        }
    }
}
