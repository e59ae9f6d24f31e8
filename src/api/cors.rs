//! CORS (docs/api.md): exact-origin allowlist, preflight without a token.
//!
//! Only origins listed in `CORS_ALLOWED_ORIGINS` get CORS headers; everyone else gets
//! none, so a browser refuses to hand them the response. Credentials are not allowed:
//! the API authenticates with a bearer header, never cookies.

/// How long a browser may cache a preflight answer. Chromium caps at 2 hours.
pub const MAX_AGE_SECONDS: u32 = 7200;
/// Request headers a browser app may send: its token, JSON bodies, conditional
/// requests and idempotent retries.
const ALLOWED_HEADERS: &str =
    "authorization, content-type, if-match, if-none-match, idempotency-key";
/// Response headers a browser script needs to read (ETag for conditional requests,
/// Location after create, Link for paging, Retry-After on 429/503, Server-Timing, and
/// WWW-Authenticate on 401).
const EXPOSED_HEADERS: &str = "etag, location, link, retry-after, server-timing, www-authenticate";

pub fn allowed<'a>(allowlist: &'a [String], origin: Option<&str>) -> Option<&'a str> {
    let origin = origin?;
    allowlist
        .iter()
        .find(|o| o.as_str() == origin)
        .map(String::as_str)
}

/// When CORS is configured, every answer depends on `Origin` (an allowed one gets
/// headers, another does not), so every answer says so: a cache in front must not
/// serve one origin's response to another.
fn vary(allowlist: &[String]) -> Option<(&'static str, String)> {
    (!allowlist.is_empty()).then(|| ("vary", "Origin".to_string()))
}

/// Headers for a preflight of a resource serving `allow` (the `Allow` value, e.g.
/// `GET, POST`): the CORS grant for an allowed origin, `Vary` whenever configured.
pub fn preflight_headers(
    allowlist: &[String],
    origin: Option<&str>,
    allow: &str,
) -> Vec<(&'static str, String)> {
    let mut headers: Vec<_> = vary(allowlist).into_iter().collect();
    if let Some(origin) = allowed(allowlist, origin) {
        headers.extend([
            ("access-control-allow-origin", origin.to_string()),
            ("access-control-allow-methods", allow.to_string()),
            ("access-control-allow-headers", ALLOWED_HEADERS.to_string()),
            ("access-control-max-age", MAX_AGE_SECONDS.to_string()),
        ]);
    }
    headers
}

/// Headers for an actual request: for an allowed origin the grant, the headers its
/// script may read and `Timing-Allow-Origin` (so it can read `Server-Timing`);
/// `Vary` whenever configured.
pub fn response_headers(allowlist: &[String], origin: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers: Vec<_> = vary(allowlist).into_iter().collect();
    if let Some(origin) = allowed(allowlist, origin) {
        headers.extend([
            ("access-control-allow-origin", origin.to_string()),
            ("access-control-expose-headers", EXPOSED_HEADERS.to_string()),
            ("timing-allow-origin", origin.to_string()),
        ]);
    }
    headers
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
        let list = vec!["https://a.test".to_string()];
        let h = preflight_headers(&list, Some("https://a.test"), "GET, POST");
        assert!(h.contains(&("access-control-allow-methods", "GET, POST".into())));
        assert!(h.contains(&(
            "access-control-allow-headers",
            "authorization, content-type, if-match, if-none-match, idempotency-key".into()
        )));
        assert!(h.contains(&("access-control-max-age", "7200".into())));
        assert!(h.contains(&("vary", "Origin".into())));
    }

    #[test]
    fn vary_origin_whenever_configured_and_only_then() {
        let list = vec!["https://a.test".to_string()];
        for origin in [Some("https://a.test"), Some("https://evil.test"), None] {
            let h = response_headers(&list, origin);
            assert_eq!(
                h.iter().filter(|(n, _)| *n == "vary").count(),
                1,
                "{origin:?}"
            );
            let granted = h.iter().any(|(n, _)| *n == "access-control-allow-origin");
            assert_eq!(granted, origin == Some("https://a.test"));
        }
        assert!(response_headers(&[], Some("https://a.test")).is_empty());
        assert!(preflight_headers(&[], Some("https://a.test"), "GET").is_empty());
    }

    #[test]
    fn an_allowed_origin_may_read_etag_and_timing() {
        let list = vec!["https://a.test".to_string()];
        let h = response_headers(&list, Some("https://a.test"));
        assert!(h.contains(&(
            "access-control-expose-headers",
            "etag, location, link, retry-after, server-timing, www-authenticate".into()
        )));
        assert!(h.contains(&("timing-allow-origin", "https://a.test".into())));
    }
}
