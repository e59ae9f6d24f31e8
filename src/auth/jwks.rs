//! When to fetch the issuer's JWKS and when to trust the keys we hold (docs/token-policy.md §6).
//!
//! `JwksCache` is the per-isolate state as a plain state machine over a clock value,
//! so every timing rule is unit-tested natively; the fetch itself lives in
//! `verifier.rs`, the shared tier's I/O in `shared_tier.rs`.
//!
//! The shared tier (docs/token-policy.md §6) is the Workers Cache API: a set one isolate fetched is
//! stored there with its lifetimes, and another isolate of the same location that
//! would fetch reads it first (`Plan::Lookup`). It is best effort: a miss, an error
//! or a Cache API that does nothing (`*.workers.dev`) just means the issuer fetch that
//! would have happened anyway.

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
/// Deadline of one shared-tier read (a local Cache API read takes milliseconds).
pub const SHARED_LOOKUP_TIMEOUT_MS: u64 = 1_000;
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

/// Name of the Cache API cache that holds the shared tier, and the origin of its
/// synthetic keys: `.internal` is reserved for private use (ICANN, 2024), so no
/// request from outside can ever be for this URL (see docs/token-policy.md).
pub const SHARED_CACHE_NAME: &str = "task-api-jwks";
pub const SHARED_KEY_PREFIX: &str = "https://jwks-cache.task-api.internal/v1/";
/// Headers of a shared-tier entry: epoch milliseconds.
pub const FETCHED_AT_HEADER: &str = "x-jwks-fetched-at";
pub const FRESH_UNTIL_HEADER: &str = "x-jwks-fresh-until";
pub const STALE_UNTIL_HEADER: &str = "x-jwks-stale-until";
/// Clock difference tolerated between the isolate that wrote an entry and the one
/// reading it (same location, different machines).
pub const SHARED_CLOCK_SLACK_MS: f64 = 60.0 * SECOND_MS;

/// When a set was fetched and how long it may be used: what the shared tier stores
/// with the body, so every isolate ages a set from its issuer fetch, not from when
/// it happened to read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetimes {
    pub fetched_at: f64,
    pub fresh_until: f64,
    /// Last instant the keys may be used (stale after `fresh_until`).
    pub stale_until: f64,
}

impl Lifetimes {
    fn after_fetch(now: f64, cache_control: Option<&str>) -> Self {
        let fresh_until = now + freshness_ms(cache_control);
        Lifetimes {
            fetched_at: now,
            fresh_until,
            stale_until: fresh_until + MAX_STALE_MS,
        }
    }

    /// The entry's headers at `now`: the lifetimes, and a `Cache-Control` that keeps
    /// it in the Cache API through the stale window (a whole number of seconds, at
    /// least 1, as `max-age` requires).
    pub fn to_headers(self, now: f64) -> [(&'static str, String); 4] {
        let max_age = ((self.stale_until - now) / SECOND_MS).ceil().max(1.0) as u64;
        [
            (
                FETCHED_AT_HEADER,
                format!("{}", self.fetched_at.floor() as u64),
            ),
            (
                FRESH_UNTIL_HEADER,
                format!("{}", self.fresh_until.floor() as u64),
            ),
            (
                STALE_UNTIL_HEADER,
                format!("{}", self.stale_until.floor() as u64),
            ),
            ("cache-control", format!("max-age={max_age}")),
        ]
    }

    /// Reads lifetimes back, refusing any that this worker would not have written:
    /// missing or non-numeric values, an order other than fetched ≤ fresh ≤ stale,
    /// windows longer than the policy allows, or a fetch in the future. Only this
    /// worker writes the entry; the checks guard against our own older versions and
    /// bugs, not against outsiders (who cannot write it).
    pub fn from_headers(now: f64, get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let read = |name: &str| -> Option<f64> {
            let value = get(name)?;
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            value.parse::<u64>().ok().map(|v| v as f64)
        };
        let lifetimes = Lifetimes {
            fetched_at: read(FETCHED_AT_HEADER)?,
            fresh_until: read(FRESH_UNTIL_HEADER)?,
            stale_until: read(STALE_UNTIL_HEADER)?,
        };
        let ordered = lifetimes.fetched_at <= lifetimes.fresh_until
            && lifetimes.fresh_until <= lifetimes.stale_until;
        let bounded = lifetimes.fresh_until - lifetimes.fetched_at <= MAX_FRESH_MS
            && lifetimes.stale_until - lifetimes.fresh_until <= MAX_STALE_MS
            && lifetimes.fetched_at <= now + SHARED_CLOCK_SLACK_MS;
        (ordered && bounded).then_some(lifetimes)
    }
}

/// The shared tier's key for a JWKS URL, from the hex SHA-256 of the URL: one entry
/// per issuer, a fixed-length key, and nothing of the URL's text in cache keys.
pub fn shared_key(url_sha256_hex: &str) -> String {
    format!("{SHARED_KEY_PREFIX}{url_sha256_hex}")
}

/// Keys from one successful fetch.
#[derive(Debug)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    lifetimes: Lifetimes,
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
    /// Read the shared tier before fetching (`lookup_started`, then `looked_up`), then
    /// plan again. Only where the plan would otherwise be an expiry `Fetch`.
    Lookup,
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
    /// Whether to read the shared tier before fetching.
    shared: bool,
    /// The shared tier was read since the last fetch attempt and had nothing newer
    /// than what this isolate holds: the next step is the issuer.
    looked_up: bool,
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
    /// A cache that reads the shared tier before fetching (the worker's); `default()`
    /// is the isolate-only cache.
    pub fn with_shared_tier() -> Self {
        JwksCache {
            shared: true,
            ..JwksCache::default()
        }
    }

    fn in_cooldown(&self, now: f64) -> bool {
        self.last_attempt.is_some_and(|t| now - t < COOLDOWN_MS)
    }

    /// `unknown_key` is set when the held keys did not contain the token's key: a
    /// refresh may find a rotated key, but at most once per cooldown.
    pub fn plan(&self, now: f64, unknown_key: bool) -> Plan {
        let in_flight = self
            .in_flight
            .filter(|since| now - since < JOIN_DEADLINE_MS);
        let usable = self
            .set
            .as_deref()
            .filter(|s| now < s.lifetimes.stale_until);
        // Another isolate may have fetched what this one is about to: an expiry fetch
        // reads the shared tier first. An unknown kid goes to the issuer directly
        // (rare, and bounded by the cooldown anyway).
        let fetch = if self.shared && !self.looked_up && !unknown_key {
            Plan::Lookup
        } else {
            Plan::Fetch
        };
        match (usable, in_flight) {
            (Some(set), _) if now < set.lifetimes.fresh_until && !unknown_key => Plan::UseHeld,
            // Rotation: the first request with a new kid started a refresh; the others
            // carrying it wait for that refresh instead of getting 401 meanwhile.
            (Some(_), Some(since)) if unknown_key => Plan::Join { since },
            // Stale keys serve while a lookup or refresh runs. (A refresh also starts
            // a cooldown, which the next arm covers; a lookup does not.)
            (Some(_), Some(_)) => Plan::UseHeld,
            // Made-up kids and failing refreshes must not turn into one issuer request
            // each: inside the cooldown the held (possibly stale) keys are the answer.
            (Some(_), _) if self.in_cooldown(now) => Plan::UseHeld,
            (Some(_), _) => fetch,
            (None, Some(since)) => Plan::Join { since },
            // Without usable keys every request may try, except while a failure is
            // remembered; failing closed with 503 is the only alternative.
            (None, None) => match self.retry_after(now) {
                Some(retry_after) => Plan::Unavailable { retry_after },
                None => fetch,
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
        // Whatever the fetch brings, the next expiry may find a newer set shared.
        self.looked_up = false;
    }

    /// A shared-tier read begins. Requests without usable keys wait for it like for a
    /// fetch; it starts no cooldown, since the issuer is not asked.
    pub fn lookup_started(&mut self, now: f64) {
        self.in_flight = Some(now);
    }

    /// The shared-tier read that started at `since` ended with `found` (the entry's
    /// usable keys and lifetimes) or nothing (miss, Cache API error, unreadable
    /// entry). The entry is adopted if it may still be used and is newer than the
    /// held set; adopted while fresh, it serves with no issuer fetch. Returns whether
    /// it was adopted.
    pub fn looked_up(
        &mut self,
        now: f64,
        since: f64,
        found: Option<(Vec<Jwk>, Lifetimes)>,
    ) -> bool {
        self.fetch_abandoned(since);
        let held_fetched_at = self.set.as_ref().map(|s| s.lifetimes.fetched_at);
        let adopt = found.filter(|(keys, lifetimes)| {
            !keys.is_empty()
                && now < lifetimes.stale_until
                && held_fetched_at.is_none_or(|held| lifetimes.fetched_at > held)
        });
        let Some((keys, lifetimes)) = adopt else {
            self.looked_up = true;
            return false;
        };
        // A fresh set behaves as if fetched here: its expiry reads the tier again.
        // A stale one is used while this isolate refreshes it from the issuer.
        self.looked_up = now >= lifetimes.fresh_until;
        self.failure = None;
        self.set = Some(Rc::new(KeySet { keys, lifetimes }));
        true
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
    ///
    /// Returns the new set's lifetimes, for the shared tier: `None` when nothing
    /// usable arrived, which must not be shared either.
    pub fn fetched(
        &mut self,
        now: f64,
        since: f64,
        keys: Vec<Jwk>,
        cache_control: Option<&str>,
    ) -> Option<Lifetimes> {
        if keys.is_empty() {
            self.fetch_failed(now, since, NO_USABLE_KEY.into());
            return None;
        }
        self.fetch_abandoned(since);
        self.failure = None;
        let lifetimes = Lifetimes::after_fetch(now, cache_control);
        self.set = Some(Rc::new(KeySet { keys, lifetimes }));
        Some(lifetimes)
    }

    pub fn in_flight(&self) -> Option<f64> {
        self.in_flight
    }

    pub fn last_error(&self) -> Option<&str> {
        self.failure.as_ref().map(|f| f.reason.as_str())
    }

    /// The keys that may be used now, fresh or within the stale allowance.
    pub fn usable(&self, now: f64) -> Option<Rc<KeySet>> {
        self.set
            .as_ref()
            .filter(|s| now < s.lifetimes.stale_until)
            .cloned()
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

    // ------------------------------------------------------------ shared tier

    /// Lifetimes of a set fetched at `at` with the default freshness.
    fn lifetimes_at(at: f64) -> Lifetimes {
        Lifetimes::after_fetch(at, None)
    }

    #[test]
    fn a_fresh_isolate_reads_the_shared_tier_before_fetching() {
        let mut cache = JwksCache::with_shared_tier();
        assert_eq!(cache.plan(T0, false), Plan::Lookup);
        cache.lookup_started(T0);
        // Concurrent cold requests wait for the lookup, they do not fetch.
        assert_eq!(cache.plan(T0 + 1.0, false), Plan::Join { since: T0 });
        // Another isolate fetched a minute ago: fresh, adopted, no issuer fetch.
        let shared = lifetimes_at(T0 - 60_000.0);
        assert!(cache.looked_up(T0 + 2.0, T0, Some((one_key(), shared))));
        assert_eq!(cache.in_flight(), None);
        assert_eq!(cache.plan(T0 + 3.0, false), Plan::UseHeld);
        // It ages from the other isolate's fetch, not from the lookup.
        let expiry = shared.fresh_until;
        assert_eq!(cache.plan(expiry - 1.0, false), Plan::UseHeld);
        // At expiry the tier is read again (someone may have refreshed) …
        assert_eq!(cache.plan(expiry, false), Plan::Lookup);
        cache.lookup_started(expiry);
        // … and the same, now stale, entry is not newer: next comes the issuer.
        assert!(!cache.looked_up(expiry + 1.0, expiry, Some((one_key(), shared))));
        assert_eq!(cache.plan(expiry + 2.0, false), Plan::Fetch);
        cache.fetch_started(expiry + 2.0);
        let written = cache.fetched(expiry + 3.0, expiry + 2.0, one_key(), None);
        assert_eq!(written, Some(lifetimes_at(expiry + 3.0)));
    }

    #[test]
    fn a_miss_or_a_broken_tier_means_the_fetch_of_an_isolate_only_cache() {
        let mut cache = JwksCache::with_shared_tier();
        assert_eq!(cache.plan(T0, false), Plan::Lookup);
        cache.lookup_started(T0);
        assert!(!cache.looked_up(T0 + 1.0, T0, None));
        assert_eq!(cache.plan(T0 + 1.0, false), Plan::Fetch);
        // A fetch failure is remembered as without the tier; after it, look again.
        cache.fetch_started(T0 + 1.0);
        cache.fetch_failed(T0 + 2.0, T0 + 1.0, "down".into());
        assert_eq!(
            cache.plan(T0 + 3.0, false),
            Plan::Unavailable { retry_after: 5 }
        );
        assert_eq!(
            cache.plan(T0 + 2.0 + NEGATIVE_CACHE_MS, false),
            Plan::Lookup
        );
        // A cancelled lookup does not block the next request.
        cache.lookup_started(T0 + 6_000.0);
        cache.fetch_abandoned(T0 + 6_000.0);
        assert_eq!(cache.plan(T0 + 6_001.0, false), Plan::Lookup);
    }

    #[test]
    fn a_shared_set_past_its_stale_lifetime_is_never_used() {
        let mut cache = JwksCache::with_shared_tier();
        let old = lifetimes_at(T0 - DEFAULT_FRESH_MS - MAX_STALE_MS);
        assert_eq!(old.stale_until, T0);
        cache.lookup_started(T0);
        assert!(!cache.looked_up(T0, T0, Some((one_key(), old))));
        assert!(cache.usable(T0).is_none());
        assert_eq!(cache.plan(T0, false), Plan::Fetch);
        // One millisecond earlier it would still have served, stale.
        let mut cache = JwksCache::with_shared_tier();
        cache.lookup_started(T0 - 1.0);
        assert!(cache.looked_up(T0 - 1.0, T0 - 1.0, Some((one_key(), old))));
        assert!(cache.usable(T0 - 1.0).is_some());
        assert!(cache.usable(T0).is_none());
    }

    #[test]
    fn a_stale_shared_set_serves_while_this_isolate_refreshes() {
        let mut cache = JwksCache::with_shared_tier();
        let stale = lifetimes_at(T0 - DEFAULT_FRESH_MS - 1_000.0);
        cache.lookup_started(T0);
        assert!(cache.looked_up(T0 + 1.0, T0, Some((one_key(), stale))));
        // The looking request refreshes from the issuer …
        assert_eq!(cache.plan(T0 + 2.0, false), Plan::Fetch);
        cache.fetch_started(T0 + 2.0);
        // … others use the stale keys meanwhile, and after a failed refresh too.
        assert_eq!(cache.plan(T0 + 3.0, false), Plan::UseHeld);
        cache.fetch_failed(T0 + 4.0, T0 + 2.0, "JWKS unreachable".into());
        assert_eq!(cache.plan(T0 + 5.0, false), Plan::UseHeld);
        assert!(cache.usable(T0 + 5.0).is_some());
        // Stale keys also serve while a lookup runs.
        let mut cache = warm(T0, Some("max-age=60"));
        cache.shared = true;
        let later = T0 + 61_000.0;
        assert_eq!(cache.plan(later, false), Plan::Lookup);
        cache.lookup_started(later);
        assert_eq!(cache.plan(later + 1.0, false), Plan::UseHeld);
        // A lookup starts no cooldown: after a miss the issuer is asked at once.
        assert!(!cache.looked_up(later + 2.0, later, None));
        assert_eq!(cache.plan(later + 3.0, false), Plan::Fetch);
    }

    #[test]
    fn a_held_set_is_not_replaced_by_an_older_shared_one() {
        let mut cache = warm(T0, Some("max-age=60"));
        cache.shared = true;
        let later = T0 + 61_000.0;
        cache.lookup_started(later);
        let older = lifetimes_at(T0 - 1_000.0);
        assert!(!cache.looked_up(later, later, Some((one_key(), older))));
        let newer = lifetimes_at(T0 + 30_000.0);
        cache.lookup_started(later);
        assert!(cache.looked_up(later, later, Some((one_key(), newer))));
        assert_eq!(cache.plan(later + 1.0, false), Plan::UseHeld);
        // An empty key list (nothing usable under this worker's allowlist) is a miss.
        let mut cold = JwksCache::with_shared_tier();
        cold.lookup_started(T0);
        assert!(!cold.looked_up(T0, T0, Some((vec![], lifetimes_at(T0)))));
        assert_eq!(cold.plan(T0, false), Plan::Fetch);
    }

    #[test]
    fn an_unknown_kid_refreshes_from_the_issuer_not_the_shared_tier() {
        let mut cache = JwksCache::with_shared_tier();
        cache.fetch_started(T0);
        cache.fetched(T0, T0, one_key(), None);
        assert_eq!(cache.plan(T0 + COOLDOWN_MS, true), Plan::Fetch);
    }

    #[test]
    fn a_fetch_of_nothing_usable_is_not_shared() {
        let mut cache = JwksCache::with_shared_tier();
        cache.fetch_started(T0);
        assert_eq!(cache.fetched(T0, T0, vec![], None), None);
    }

    #[test]
    fn lifetimes_round_trip_through_entry_headers() {
        let now = 1_764_000_000_000.0;
        let lifetimes = Lifetimes::after_fetch(now, Some("max-age=300"));
        let headers = lifetimes.to_headers(now);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(Lifetimes::from_headers(now, get), Some(lifetimes));
        // The Cache API keeps the entry through the whole stale window.
        assert_eq!(
            get("cache-control").as_deref(),
            Some("max-age=3900"),
            "300 s fresh + 1 h stale"
        );
        // Written late in its life, it is still kept at least a second.
        let late = lifetimes.to_headers(lifetimes.stale_until - 10.0);
        assert_eq!(late[3].1, "max-age=1");
    }

    #[test]
    fn entry_headers_this_worker_would_not_write_are_refused() {
        let now = 1_764_000_000_000.0;
        let ok = Lifetimes::after_fetch(now, None);
        let with = |fetched: &str, fresh: &str, stale: &str| {
            let (fetched, fresh, stale) =
                (fetched.to_string(), fresh.to_string(), stale.to_string());
            Lifetimes::from_headers(now, move |name| match name {
                FETCHED_AT_HEADER => Some(fetched.clone()),
                FRESH_UNTIL_HEADER => Some(fresh.clone()),
                STALE_UNTIL_HEADER => Some(stale.clone()),
                _ => None,
            })
        };
        let n = |v: f64| format!("{}", v as u64);
        assert!(with(&n(ok.fetched_at), &n(ok.fresh_until), &n(ok.stale_until)).is_some());
        for (fetched, fresh, stale, why) in [
            (
                n(ok.fetched_at),
                n(ok.stale_until),
                n(ok.fresh_until),
                "out of order",
            ),
            (
                n(ok.fetched_at),
                n(ok.fetched_at + MAX_FRESH_MS + 1.0),
                n(ok.fetched_at + MAX_FRESH_MS + 1.0),
                "fresh too long",
            ),
            (
                n(ok.fetched_at),
                n(ok.fresh_until),
                n(ok.fresh_until + MAX_STALE_MS + 1.0),
                "stale too long",
            ),
            (
                n(now + 2.0 * SHARED_CLOCK_SLACK_MS),
                n(now + 3.0 * SHARED_CLOCK_SLACK_MS),
                n(now + 4.0 * SHARED_CLOCK_SLACK_MS),
                "fetched in the future",
            ),
            (
                "-1".into(),
                n(ok.fresh_until),
                n(ok.stale_until),
                "negative",
            ),
            (
                "1e12".into(),
                n(ok.fresh_until),
                n(ok.stale_until),
                "not digits",
            ),
            ("".into(), n(ok.fresh_until), n(ok.stale_until), "empty"),
            (
                "99999999999999999999999".into(),
                n(ok.fresh_until),
                n(ok.stale_until),
                "overflow",
            ),
        ] {
            assert_eq!(with(&fetched, &fresh, &stale), None, "{why}");
        }
        assert_eq!(Lifetimes::from_headers(now, |_| None), None, "missing");
    }

    #[test]
    fn the_shared_key_is_fixed_and_internal() {
        let key = shared_key("ab12");
        assert_eq!(key, "https://jwks-cache.task-api.internal/v1/ab12");
        let url = url::Url::parse(&key).unwrap();
        assert!(url.host_str().unwrap().ends_with(".internal"));
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
