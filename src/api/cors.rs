//! CORS (SPEC §4): exact-origin allowlist, preflight without a token.
//!
//! Only origins listed in `CORS_ALLOWED_ORIGINS` get CORS headers; everyone else gets
//! none, so a browser refuses to hand them the response. Credentials are not allowed:
//! the API authenticates with a bearer header, never cookies.

/// How long a browser may cache a preflight answer. Chromium caps at 2 hours.
pub const MAX_AGE_SECONDS: u32 = 7200;
const ALLOWED_HEADERS: &str = "authorization, content-type";
/// Response headers a browser script needs to read (Location after create, Link for
/// paging, Retry-After on 503, WWW-Authenticate on 401).
const EXPOSED_HEADERS: &str = "location, link, retry-after, www-authenticate";

pub fn allowed<'a>(allowlist: &'a [String], origin: Option<&str>) -> Option<&'a str> {
    let origin = origin?;
    allowlist
        .iter()
        .find(|o| o.as_str() == origin)
        .map(String::as_str)
}

/// Headers for an allowed origin's preflight of a resource serving `allow` (the
/// `Allow` value, e.g. `GET, POST`).
pub fn preflight_headers(origin: &str, allow: &str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_string()),
        ("access-control-allow-methods", allow.to_string()),
        ("access-control-allow-headers", ALLOWED_HEADERS.to_string()),
        ("access-control-max-age", MAX_AGE_SECONDS.to_string()),
        ("vary", "Origin".to_string()),
    ]
}

/// Headers for an allowed origin's actual request.
pub fn response_headers(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("access-control-allow-origin", origin.to_string()),
        ("access-control-expose-headers", EXPOSED_HEADERS.to_string()),
        ("vary", "Origin".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_origins_match() {
        let list = vec!["https://app.example.com".to_string()];
        assert_eq!(
            allowed(&list, Some("https://app.example.com")),
            Some("https://app.example.com")
        );
        for other in [
            "https://app.example.com.evil.com",
            "http://app.example.com",
            "https://APP.example.com",
            "null",
            "",
        ] {
            assert_eq!(allowed(&list, Some(other)), None, "{other}");
        }
        assert_eq!(allowed(&list, None), None);
        assert_eq!(allowed(&[], Some("https://app.example.com")), None);
    }

    #[test]
    fn preflight_names_methods_headers_and_max_age() {
        let h = preflight_headers("https://a.test", "GET, POST");
        assert!(h.contains(&("access-control-allow-methods", "GET, POST".into())));
        assert!(h.contains(&(
            "access-control-allow-headers",
            "authorization, content-type".into()
        )));
        assert!(h.contains(&("access-control-max-age", "7200".into())));
    }
}
