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
/// `Retry-After` when no keys can be had and no failure is being remembered.
pub const RETRY_AFTER_SECONDS: u32 = 5;
/// How long a failed fetch is remembered while no keys are held: requests in that
/// window get 503 at once instead of each starting a fetch, so a dead issuer plus a
/// stream of junk tokens costs one fetch per window, not one per request.
pub const NEGATIVE_CACHE_MS: f64 = 5.0 * SECOND_MS;
/// How long a joiner waits for someone else's fetch: its deadline plus slack. An
/// in-flight mark older than this belongs to a request that vanished.
pub const JOIN_DEADLINE_MS: f64 = FETCH_TIMEOUT_MS as f64 + 1000.0;
/// A joiner's first and longest pause between looks at the in-flight fetch.
pub const JOIN_PAUSE_FIRST_MS: u64 = 2;
pub const JOIN_PAUSE_MAX_MS: u64 = 100;
/// Logged (as the 503's reason) when a JWKS loads but no key in it fits the
/// allowlist: `{"keys":[]}`, only `use: enc`, other curves, small RSA keys.
pub const NO_USABLE_KEY: &str = "JWKS has no usable key for the allowed algorithms";

/// Keys from one successful fetch.
#[derive(Debug)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    fresh_until: f64,
    usable_until: f64,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// Use the keys held now.
    UseHeld,
    /// Start a fetch (`fetch_started`, then `fetched` or `fetch_failed`), then plan again.
    Fetch,
    /// The fetch that started at `since` is in flight and may bring what is missing:
    /// wait for it, then plan again. Never starts a fetch, so it never bypasses the
    /// cooldown.
    Join { since: f64 },
    /// No keys, and a fetch failed moments ago: answer 503 with this `Retry-After`.
    Unavailable { retry_after: u32 },
}

#[derive(Debug)]
struct Failure {
    at: f64,
    reason: String,
}

#[derive(Debug, Default)]
pub struct JwksCache {
    set: Option<Rc<KeySet>>,
    last_attempt: Option<f64>,
    /// When the fetch now running started.
    in_flight: Option<f64>,
    /// The latest fetch's failure, until one succeeds.
    failure: Option<Failure>,
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
        let in_flight = self
            .in_flight
            .filter(|since| now - since < JOIN_DEADLINE_MS);
        let usable = self.set.as_deref().filter(|s| now < s.usable_until);
        match (usable, in_flight) {
            (Some(set), _) if now < set.fresh_until && !unknown_key => Plan::UseHeld,
            // Rotation: the first request with a new kid started a refresh; the others
            // carrying it wait for that refresh instead of getting 401 meanwhile.
            (Some(_), Some(since)) if unknown_key => Plan::Join { since },
            // Made-up kids and failing refreshes must not turn into one issuer request
            // each: inside the cooldown the held (possibly stale) keys are the answer.
            (Some(_), _) if self.in_cooldown(now) => Plan::UseHeld,
            (Some(_), _) => Plan::Fetch,
            (None, Some(since)) => Plan::Join { since },
            // Without usable keys every request may try, except while a failure is
            // remembered; failing closed with 503 is the only alternative.
            (None, None) => match self.retry_after(now) {
                Some(retry_after) => Plan::Unavailable { retry_after },
                None => Plan::Fetch,
            },
        }
    }

    /// Whole seconds (at least 1) left of a remembered failure.
    fn retry_after(&self, now: f64) -> Option<u32> {
        let left = self.failure.as_ref()?.at + NEGATIVE_CACHE_MS - now;
        // `left` is at most NEGATIVE_CACHE_MS, so the cast cannot overflow.
        (left > 0.0).then(|| ((left / SECOND_MS).ceil() as u32).max(1))
    }

    pub fn fetch_started(&mut self, now: f64) {
        self.last_attempt = Some(now);
        self.in_flight = Some(now);
    }

    /// The fetch that started at `since` ended without an outcome (its request was
    /// cancelled): let the next request fetch instead of waiting for nothing.
    pub fn fetch_abandoned(&mut self, since: f64) {
        if self.in_flight == Some(since) {
            self.in_flight = None;
        }
    }

    pub fn fetch_failed(&mut self, now: f64, since: f64, reason: String) {
        self.fetch_abandoned(since);
        self.failure = Some(Failure { at: now, reason });
    }

    /// A JWKS arrived. A set with no usable key counts as a failed fetch: it keeps any
    /// previous good set, and without one the requests get 503 (an operator problem,
    /// e.g. `AUTH_ALGORITHMS` naming algorithms the issuer does not publish), not
    /// 401s that make every client log its user out.
    pub fn fetched(&mut self, now: f64, since: f64, keys: Vec<Jwk>, cache_control: Option<&str>) {
        if keys.is_empty() {
            return self.fetch_failed(now, since, NO_USABLE_KEY.into());
        }
        self.fetch_abandoned(since);
        self.failure = None;
        let fresh_until = now + freshness_ms(cache_control);
        self.set = Some(Rc::new(KeySet {
            keys,
            fresh_until,
            usable_until: fresh_until + MAX_STALE_MS,
        }));
    }

    pub fn in_flight(&self) -> Option<f64> {
        self.in_flight
    }

    pub fn last_error(&self) -> Option<&str> {
        self.failure.as_ref().map(|f| f.reason.as_str())
    }

    /// The keys that may be used now, fresh or within the stale allowance.
    pub fn usable(&self, now: f64) -> Option<Rc<KeySet>> {
        self.set.as_ref().filter(|s| now < s.usable_until).cloned()
    }
}

/// A joiner's next pause: doubling from the first, capped. Joiners wake on their own
/// timers (see `verifier.rs`), and each wake-up is billed CPU; a 2 ms poll through a
/// 5 s outage was ~2500 wake-ups per waiting request, this is ~55.
pub fn next_join_pause(previous_ms: u64) -> u64 {
    previous_ms
        .saturating_mul(2)
        .clamp(JOIN_PAUSE_FIRST_MS, JOIN_PAUSE_MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::algorithm::Algorithm;
    use crate::auth::jwk::parse_jwks;

    const T0: f64 = 1_000_000.0;

    /// One usable Ed25519 key (the cache only counts keys, it never reads them).
    fn one_key() -> Vec<Jwk> {
        let body = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let keys = parse_jwks(body, &Algorithm::ASYMMETRIC).unwrap();
        assert_eq!(keys.len(), 1);
        keys
    }

    /// A cache that fetched one key at `at` (its attempt started then too).
    fn warm(at: f64, cache_control: Option<&str>) -> JwksCache {
        let mut cache = JwksCache::default();
        cache.fetch_started(at);
        cache.fetched(at, at, one_key(), cache_control);
        cache
    }

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
    fn cold_cache_fetches_once_and_then_serves_from_memory() {
        let mut cache = JwksCache::default();
        assert_eq!(cache.plan(T0, false), Plan::Fetch);
        assert!(cache.usable(T0).is_none());
        cache.fetch_started(T0);
        // Concurrent cold requests join the one fetch.
        assert_eq!(cache.plan(T0 + 1.0, false), Plan::Join { since: T0 });
        cache.fetched(T0 + 5.0, T0, one_key(), Some("max-age=120"));
        assert_eq!(cache.plan(T0 + 119_000.0, false), Plan::UseHeld);
        assert_eq!(cache.plan(T0 + 121_000.0, false), Plan::Fetch);
    }

    #[test]
    fn unknown_kid_refreshes_once_per_cooldown() {
        let mut cache = warm(T0, None);
        assert_eq!(
            cache.plan(T0 + 1_000.0, true),
            Plan::UseHeld,
            "within cooldown of the first fetch"
        );
        assert_eq!(cache.plan(T0 + COOLDOWN_MS, true), Plan::Fetch);
        cache.fetch_started(T0 + COOLDOWN_MS);
        cache.fetched(T0 + COOLDOWN_MS, T0 + COOLDOWN_MS, one_key(), None);
        assert_eq!(cache.plan(T0 + COOLDOWN_MS + 29_000.0, true), Plan::UseHeld);
        assert_eq!(cache.plan(T0 + 2.0 * COOLDOWN_MS, true), Plan::Fetch);
    }

    #[test]
    fn rotation_concurrent_new_kid_requests_join_the_refresh() {
        // Finding 4: a fresh set, then request A with a new kid after the cooldown.
        let mut cache = warm(T0, None);
        let t1 = T0 + 60_000.0;
        assert_eq!(cache.plan(t1, true), Plan::Fetch);
        cache.fetch_started(t1);
        // C, D, … carry the same new kid while A's refresh runs: they wait for it.
        for dt in [1.0, 10.0, 4_999.0] {
            assert_eq!(cache.plan(t1 + dt, true), Plan::Join { since: t1 }, "{dt}");
        }
        // Requests with a known kid are not held up by the refresh.
        assert_eq!(cache.plan(t1 + 10.0, false), Plan::UseHeld);
        cache.fetched(t1 + 20.0, t1, one_key(), None);
        // After it, the cooldown rules again: no second fetch for anyone.
        assert_eq!(cache.plan(t1 + 21.0, true), Plan::UseHeld);
        assert_eq!(cache.plan(t1 + 29_000.0, true), Plan::UseHeld);
    }

    #[test]
    fn waiting_never_bypasses_the_cooldown() {
        let mut cache = warm(T0, None);
        // Nothing in flight, inside the cooldown: an unknown kid is answered from
        // the held keys (401), it neither fetches nor waits.
        assert_eq!(cache.plan(T0 + 10.0, true), Plan::UseHeld);
        // A refresh that ended (failed) leaves nothing to join, and starts a cooldown.
        let t1 = T0 + COOLDOWN_MS;
        cache.fetch_started(t1);
        cache.fetch_failed(t1 + 50.0, t1, "JWKS answered HTTP 500".into());
        assert_eq!(cache.plan(t1 + 100.0, true), Plan::UseHeld);
        assert_eq!(cache.plan(t1 + COOLDOWN_MS - 1.0, true), Plan::UseHeld);
        assert_eq!(cache.plan(t1 + COOLDOWN_MS, true), Plan::Fetch);
    }

    #[test]
    fn a_vanished_fetch_is_not_waited_for_forever() {
        let mut cache = JwksCache::default();
        cache.fetch_started(T0);
        assert_eq!(
            cache.plan(T0 + JOIN_DEADLINE_MS - 1.0, false),
            Plan::Join { since: T0 }
        );
        assert_eq!(cache.plan(T0 + JOIN_DEADLINE_MS, false), Plan::Fetch);
        cache.fetch_abandoned(T0);
        assert_eq!(cache.in_flight(), None);
        assert_eq!(cache.plan(T0 + 1.0, false), Plan::Fetch);
        // An old fetch's outcome does not clear a newer one's mark.
        cache.fetch_started(T0 + 10.0);
        cache.fetch_abandoned(T0);
        assert_eq!(cache.in_flight(), Some(T0 + 10.0));
    }

    #[test]
    fn failed_refresh_keeps_last_good_keys_for_a_bounded_time() {
        let mut cache = warm(T0, Some("max-age=60"));
        let stale = T0 + 61_000.0;
        assert_eq!(cache.plan(stale, false), Plan::Fetch);
        cache.fetch_started(stale);
        // Stale keys keep serving while the refresh runs.
        assert_eq!(cache.plan(stale + 1.0, false), Plan::UseHeld);
        cache.fetch_failed(stale + 5.0, stale, "down".into());
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
        assert_eq!(
            cache.plan(end, false),
            Plan::Fetch,
            "no usable keys: may try"
        );
    }

    #[test]
    fn a_failed_fetch_without_keys_is_remembered_for_five_seconds() {
        let mut cache = JwksCache::default();
        cache.fetch_started(T0);
        // The request that fetched, and those that joined it, get the full window.
        cache.fetch_failed(T0 + 100.0, T0, "JWKS unreachable".into());
        assert_eq!(cache.last_error(), Some("JWKS unreachable"));
        for (dt, left) in [
            (100.0, 5),
            (101.0, 5),
            (1_100.0, 4),
            (4_099.0, 2),
            (5_099.0, 1),
        ] {
            assert_eq!(
                cache.plan(T0 + dt, false),
                Plan::Unavailable { retry_after: left },
                "{dt}"
            );
        }
        // Unknown kids change nothing: there are no keys to be unknown among.
        assert_eq!(
            cache.plan(T0 + 2_000.0, true),
            Plan::Unavailable { retry_after: 4 }
        );
        assert_eq!(cache.plan(T0 + 5_100.0, false), Plan::Fetch);
        // A success ends the memory.
        cache.fetch_started(T0 + 5_100.0);
        cache.fetched(T0 + 5_200.0, T0 + 5_100.0, one_key(), None);
        assert_eq!(cache.last_error(), None);
        assert_eq!(cache.plan(T0 + 5_300.0, false), Plan::UseHeld);
    }

    #[test]
    fn a_jwks_without_usable_keys_counts_as_a_failed_fetch() {
        // Cold: 503 (not 401), with the reason logged.
        let mut cache = JwksCache::default();
        cache.fetch_started(T0);
        cache.fetched(T0 + 10.0, T0, vec![], None);
        assert!(cache.usable(T0 + 10.0).is_none());
        assert_eq!(cache.last_error(), Some(NO_USABLE_KEY));
        assert_eq!(
            cache.plan(T0 + 20.0, false),
            Plan::Unavailable { retry_after: 5 }
        );
        assert_eq!(cache.in_flight(), None);

        // Warm: the previous good set stays in use.
        let mut cache = warm(T0, Some("max-age=60"));
        let later = T0 + 61_000.0;
        cache.fetch_started(later);
        cache.fetched(later + 10.0, later, vec![], None);
        assert_eq!(cache.usable(later + 20.0).map(|s| s.keys.len()), Some(1));
        assert_eq!(cache.plan(later + 20.0, false), Plan::UseHeld);
    }

    #[test]
    fn join_pauses_back_off_to_a_cap() {
        let mut pause = 0;
        let mut pauses = Vec::new();
        for _ in 0..9 {
            pause = next_join_pause(pause);
            pauses.push(pause);
        }
        assert_eq!(pauses, [2, 4, 8, 16, 32, 64, 100, 100, 100]);
        // Wake-ups through a whole join deadline: tens, not thousands.
        let (mut t, mut wakeups, mut p) = (0u64, 0, 0);
        while (t as f64) < JOIN_DEADLINE_MS {
            p = next_join_pause(p);
            t += p;
            wakeups += 1;
        }
        assert!(wakeups < 70, "{wakeups}");
    }
}
