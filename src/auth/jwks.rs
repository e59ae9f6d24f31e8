//! When to fetch the issuer's JWKS and when to trust the keys we hold (SPEC §5.6).
//!
//! `JwksCache` is the per-isolate state as a plain state machine over a clock value,
//! so every timing rule is unit-tested natively; the fetch itself lives in
//! `verifier.rs`.

use std::rc::Rc;

use super::jwk::Jwk;

pub const SECOND_MS: f64 = 1000.0;
/// Freshness bounds for `Cache-Control: max-age`: at least a minute (an issuer saying
/// `max-age=0` must not make every request fetch), at most a day (rotation must
/// propagate eventually).
pub const MIN_FRESH_MS: f64 = 60.0 * SECOND_MS;
pub const MAX_FRESH_MS: f64 = 24.0 * 3600.0 * SECOND_MS;
/// Better Auth sends no Cache-Control on its JWKS.
pub const DEFAULT_FRESH_MS: f64 = 600.0 * SECOND_MS;
/// How long keys past their freshness may still be used while refreshes fail.
pub const MAX_STALE_MS: f64 = 3600.0 * SECOND_MS;
/// Minimum spacing of fetch attempts outside normal expiry: tokens with made-up
/// `kid`s must not turn into a flood of requests to the issuer.
pub const COOLDOWN_MS: f64 = 30.0 * SECOND_MS;
/// Deadline and size cap of one JWKS fetch.
pub const FETCH_TIMEOUT_MS: u64 = 5_000;
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// `Retry-After` when no keys can be had.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Keys from one successful fetch.
#[derive(Debug)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    fresh_until: f64,
    usable_until: f64,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Use the keys held now.
    UseHeld,
    /// Fetch (or join the fetch already in flight), then ask again.
    Fetch,
}

#[derive(Debug, Default)]
pub struct JwksCache {
    set: Option<Rc<KeySet>>,
    last_attempt: Option<f64>,
    /// Why the latest fetch failed, until one succeeds (for the 503's log line).
    last_error: Option<String>,
}

/// Freshness lifetime from a `Cache-Control` header value.
pub fn freshness_ms(cache_control: Option<&str>) -> f64 {
    let max_age = cache_control.and_then(|cc| {
        cc.split(',').find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    match max_age {
        Some(seconds) => (seconds as f64 * SECOND_MS).clamp(MIN_FRESH_MS, MAX_FRESH_MS),
        None => DEFAULT_FRESH_MS,
    }
}

impl JwksCache {
    fn in_cooldown(&self, now: f64) -> bool {
        self.last_attempt.is_some_and(|t| now - t < COOLDOWN_MS)
    }

    /// `unknown_key` is set when the held keys did not contain the token's key: a
    /// refresh may find a rotated key, but at most once per cooldown.
    pub fn plan(&self, now: f64, unknown_key: bool) -> Plan {
        match &self.set {
            Some(set) if now < set.fresh_until && !unknown_key => Plan::UseHeld,
            Some(set) if now < set.usable_until && self.in_cooldown(now) => Plan::UseHeld,
            // Without usable keys every request may try (one fetch is shared by all
            // concurrent ones); failing closed with 503 is then the only alternative.
            _ => Plan::Fetch,
        }
    }

    /// Call when a fetch starts.
    pub fn attempt_started(&mut self, now: f64) {
        self.last_attempt = Some(now);
    }

    pub fn fetch_failed(&mut self, reason: String) {
        self.last_error = Some(reason);
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub fn fetched(&mut self, now: f64, keys: Vec<Jwk>, cache_control: Option<&str>) {
        self.last_error = None;
        let fresh_until = now + freshness_ms(cache_control);
        self.set = Some(Rc::new(KeySet {
            keys,
            fresh_until,
            usable_until: fresh_until + MAX_STALE_MS,
        }));
    }

    /// The keys that may be used now, fresh or within the stale allowance.
    pub fn usable(&self, now: f64) -> Option<Rc<KeySet>> {
        self.set.as_ref().filter(|s| now < s.usable_until).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_000_000.0;

    #[test]
    fn max_age_is_honoured_within_bounds() {
        assert_eq!(freshness_ms(None), DEFAULT_FRESH_MS);
        assert_eq!(freshness_ms(Some("public, max-age=300")), 300_000.0);
        assert_eq!(freshness_ms(Some("MAX-AGE=\"120\"")), 120_000.0);
        assert_eq!(freshness_ms(Some("max-age=0")), MIN_FRESH_MS);
        assert_eq!(freshness_ms(Some("max-age=99999999")), MAX_FRESH_MS);
        assert_eq!(freshness_ms(Some("no-store")), DEFAULT_FRESH_MS);
        assert_eq!(freshness_ms(Some("max-age=-5")), DEFAULT_FRESH_MS);
    }

    #[test]
    fn cold_cache_fetches_and_then_serves_from_memory() {
        let mut cache = JwksCache::default();
        assert_eq!(cache.plan(T0, false), Plan::Fetch);
        assert!(cache.usable(T0).is_none());
        cache.attempt_started(T0);
        cache.fetched(T0, vec![], Some("max-age=120"));
        assert_eq!(cache.plan(T0 + 119_000.0, false), Plan::UseHeld);
        assert_eq!(cache.plan(T0 + 121_000.0, false), Plan::Fetch);
    }

    #[test]
    fn unknown_kid_refreshes_once_per_cooldown() {
        let mut cache = JwksCache::default();
        cache.attempt_started(T0);
        cache.fetched(T0, vec![], None);
        assert_eq!(
            cache.plan(T0 + 1_000.0, true),
            Plan::UseHeld,
            "within cooldown of the first fetch"
        );
        assert_eq!(cache.plan(T0 + COOLDOWN_MS, true), Plan::Fetch);
        cache.attempt_started(T0 + COOLDOWN_MS);
        cache.fetched(T0 + COOLDOWN_MS, vec![], None);
        assert_eq!(cache.plan(T0 + COOLDOWN_MS + 29_000.0, true), Plan::UseHeld);
        assert_eq!(cache.plan(T0 + 2.0 * COOLDOWN_MS, true), Plan::Fetch);
    }

    #[test]
    fn failed_refresh_keeps_last_good_keys_for_a_bounded_time() {
        let mut cache = JwksCache::default();
        cache.attempt_started(T0);
        cache.fetched(T0, vec![], Some("max-age=60"));
        let stale = T0 + 61_000.0;
        assert_eq!(cache.plan(stale, false), Plan::Fetch);
        cache.attempt_started(stale);
        // The fetch failed: nothing recorded but the attempt.
        assert!(cache.usable(stale).is_some());
        assert_eq!(
            cache.plan(stale + 10_000.0, false),
            Plan::UseHeld,
            "no retry inside cooldown"
        );
        assert_eq!(cache.plan(stale + COOLDOWN_MS, false), Plan::Fetch);
        let end = T0 + 60_000.0 + MAX_STALE_MS;
        assert!(cache.usable(end - 1.0).is_some());
        assert!(cache.usable(end).is_none());
        cache.attempt_started(end);
        assert_eq!(
            cache.plan(end + 1.0, false),
            Plan::Fetch,
            "no usable keys: every request may try"
        );
    }
}
