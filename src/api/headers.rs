//! Headers that depend on the route rather than on the handler: what every response
//! carries, and `Server-Timing`.

use crate::reply::Reply;

/// `X-Content-Type-Options: nosniff` everywhere (bodies are JSON; a browser must never
/// guess otherwise). Under `/api/`, `Cache-Control: no-store` unless the handler chose
/// a policy (a single task with an `ETag` may be kept privately and revalidated):
/// per-user data must never sit in a shared cache.
pub fn standard(reply: &mut Reply, path: &str) {
    reply
        .headers
        .push(("x-content-type-options", "nosniff".into()));
    if path.starts_with("/api/") && reply.header("cache-control").is_none() {
        reply.headers.push(("cache-control", "no-store".into()));
    }
}

/// Milliseconds spent authenticating and waiting for the database, as the runtime's
/// clock reports them: `Date.now()`, whole milliseconds (deployed Workers advance it
/// only across I/O, so a span without I/O reads 0 there).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timing {
    pub auth_ms: Option<f64>,
    pub db_ms: Option<f64>,
}

impl Timing {
    /// `auth;dur=0, db;dur=3`, or nothing when neither ran. The clock counts whole
    /// milliseconds, so the spans are written as integers: float formatting on every
    /// request would only print digits the clock never has.
    pub fn header(&self) -> Option<String> {
        let entries: Vec<String> = [("auth", self.auth_ms), ("db", self.db_ms)]
            .into_iter()
            .filter_map(|(name, ms)| {
                ms.map(|ms| format!("{name};dur={}", ms.max(0.0).round() as u64))
            })
            .collect();
        (!entries.is_empty()).then(|| entries.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_is_nosniff_and_api_responses_are_not_stored() {
        let mut health = Reply::empty(200);
        standard(&mut health, "/health");
        assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(health.header("cache-control"), None);
        let mut api = Reply::empty(404);
        standard(&mut api, "/api/tasks/7");
        assert_eq!(api.header("cache-control"), Some("no-store"));
    }

    #[test]
    fn a_handler_chosen_cache_policy_is_kept() {
        let mut task = Reply::empty(200).with_header("cache-control", "private, no-cache");
        standard(&mut task, "/api/tasks/7");
        let policies: Vec<_> = task
            .headers
            .iter()
            .filter(|(n, _)| *n == "cache-control")
            .collect();
        assert_eq!(policies.len(), 1);
        assert_eq!(task.header("cache-control"), Some("private, no-cache"));
    }

    #[test]
    fn server_timing_lists_what_ran() {
        assert_eq!(Timing::default().header(), None);
        let auth_only = Timing {
            auth_ms: Some(0.0),
            db_ms: None,
        };
        assert_eq!(auth_only.header().as_deref(), Some("auth;dur=0"));
        let both = Timing {
            auth_ms: Some(1.0),
            db_ms: Some(12.0),
        };
        assert_eq!(both.header().as_deref(), Some("auth;dur=1, db;dur=12"));
        // A clock stepped backwards never gives a negative span.
        let stepped = Timing {
            auth_ms: Some(-3.0),
            db_ms: None,
        };
        assert_eq!(stepped.header().as_deref(), Some("auth;dur=0"));
    }
}
