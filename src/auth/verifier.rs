//! `authenticate`: the verification pipeline inside workerd, with the per-isolate
//! caches it needs (JWKS, imported `CryptoKey`s, one in-flight fetch) and the JWKS's
//! shared tier in the Cache API (`shared_tier.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use url::Url;
use web_sys::CryptoKey;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use super::algorithm::Algorithm;
use super::claims::ClaimPolicy;
use super::jwk::{parse_jwks, select_key, Jwk, NoKey};
use super::jwks::{
    next_join_pause, JwksCache, Plan, FETCH_TIMEOUT_MS, JOIN_DEADLINE_MS, MAX_JWKS_BYTES,
    RETRY_AFTER_SECONDS, SHARED_LOOKUP_TIMEOUT_MS,
};
use super::shared_tier;
use super::token::{self, signature_length_ok};
use super::{webcrypto, AuthError, UserScope};
use crate::adapter::{read_capped, with_deadline, ReadError};
use crate::config::AuthConfig;
use crate::error::ApiError;

/// Imported keys kept per isolate. Bounded so a JWKS that keeps changing cannot grow
/// the isolate's memory without limit.
const MAX_IMPORTED_KEYS: usize = 32;

thread_local! {
    static JWKS: RefCell<JwksCache> = RefCell::new(JwksCache::with_shared_tier());
    static IMPORTED: RefCell<HashMap<(Rc<str>, Algorithm), CryptoKey>> = RefCell::new(HashMap::new());
    static HMAC_KEY: RefCell<Option<CryptoKey>> = const { RefCell::new(None) };
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Verifies the request's bearer token and returns the caller's scope. `ctx` carries
/// the shared tier's write-back past the response (`waitUntil`).
pub async fn authenticate(
    req: &web_sys::Request,
    config: &AuthConfig,
    ctx: &worker::Context,
) -> Result<UserScope, ApiError> {
    let header = req.headers().get("authorization").ok().flatten();
    let raw = token::bearer_token(header.as_deref())?;
    let parsed = token::parse(raw, &config.algorithms)?;
    if !signature_length_ok(parsed.algorithm, parsed.signature.len()) {
        return Err(AuthError::BadSignature.into());
    }
    let key = if parsed.algorithm.uses_secret() {
        hmac_key(config).await?
    } else {
        jwks_key(config, parsed.algorithm, parsed.key_id.as_deref(), ctx).await?
    };
    let valid = webcrypto::verify(
        parsed.algorithm,
        &key,
        &parsed.signature,
        parsed.signed_data,
    )
    .await
    // WebCrypto throws on inputs it cannot even attempt (e.g. an RSA signature of
    // the wrong length): that is a bad signature, not a server fault.
    .unwrap_or(false);
    if !valid {
        return Err(AuthError::BadSignature.into());
    }
    let identity = ClaimPolicy {
        issuer: &config.issuer,
        audience: &config.audience,
        skew_seconds: config.clock_skew_seconds,
    }
    .check(&parsed, now_ms())?;
    Ok(UserScope::verified(identity))
}

async fn hmac_key(config: &AuthConfig) -> Result<CryptoKey, ApiError> {
    if let Some(key) = HMAC_KEY.with(|k| k.borrow().clone()) {
        return Ok(key);
    }
    // Config only allows HS256 with a secret; the check keeps that true here too.
    let secret = config
        .hs256_secret
        .as_deref()
        .ok_or(AuthError::AlgorithmNotAllowed)?;
    let key = webcrypto::import_hmac(secret)
        .await
        .map_err(|_| ApiError::Internal("HMAC key import failed".into()))?;
    HMAC_KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    Ok(key)
}

/// Each pass through `jwks_key` either returns or learns something (a lookup or fetch
/// ran, a wait ended, the kid was not among the held keys); the bound only guards
/// against a planning bug turning into a spin.
const MAX_PASSES: usize = 8;

async fn jwks_key(
    config: &AuthConfig,
    alg: Algorithm,
    kid: Option<&str>,
    ctx: &worker::Context,
) -> Result<CryptoKey, ApiError> {
    let url = config
        .jwks_url
        .as_ref()
        .ok_or(AuthError::AlgorithmNotAllowed)?;
    let mut unknown_key = false;
    for _ in 0..MAX_PASSES {
        match JWKS.with(|c| c.borrow().plan(now_ms(), unknown_key)) {
            Plan::Lookup => {
                lookup(url, &config.algorithms).await;
                continue;
            }
            Plan::Fetch => {
                refresh(url, &config.algorithms, ctx).await;
                continue;
            }
            Plan::Join { since } => {
                wait_for_fetch(since).await;
                continue;
            }
            Plan::Unavailable { retry_after } => return Err(no_keys(retry_after)),
            Plan::UseHeld => {}
        }
        let Some(set) = JWKS.with(|c| c.borrow().usable(now_ms())) else {
            return Err(no_keys(RETRY_AFTER_SECONDS));
        };
        match select_key(&set.keys, alg, kid) {
            Ok(jwk) => return imported(jwk, alg).await,
            Err(NoKey::NotFound) if !unknown_key => unknown_key = true,
            // The refresh this token needed failed: the keys held may just be out of
            // date (a rotation during an outage), so the token cannot be judged — 503,
            // not a 401 that would sign its user out.
            Err(NoKey::NotFound) if JWKS.with(|c| c.borrow().last_error().is_some()) => {
                return Err(no_keys(RETRY_AFTER_SECONDS))
            }
            Err(NoKey::NotFound) => return Err(AuthError::UnknownKey.into()),
            Err(NoKey::Mismatch) => return Err(AuthError::KeyMismatch.into()),
            Err(NoKey::Ambiguous) => return Err(AuthError::AmbiguousKey.into()),
        }
    }
    Err(no_keys(RETRY_AFTER_SECONDS))
}

/// 503, not 401: the token may be fine, we just cannot check it (docs/token-policy.md §6).
fn no_keys(retry_after: u32) -> ApiError {
    let cause = JWKS.with(|c| c.borrow().last_error().map(str::to_string));
    ApiError::Unavailable {
        retry_after,
        reason: format!(
            "no JWKS keys: {}",
            cause.unwrap_or_else(|| "not fetched".into())
        ),
    }
}

async fn imported(jwk: &Jwk, alg: Algorithm) -> Result<CryptoKey, ApiError> {
    let id = (Rc::clone(jwk.fingerprint()), alg);
    let cached = IMPORTED.with(|m| m.borrow().get(&id).cloned());
    if let Some(key) = cached {
        return Ok(key);
    }
    // An import failure means the issuer published a key WebCrypto rejects; the
    // token cannot be verified with it, which is the client's 401, not our 500.
    let key = webcrypto::import_jwk(&jwk.import_jwk(), alg)
        .await
        .map_err(|_| AuthError::KeyMismatch)?;
    IMPORTED.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_IMPORTED_KEYS {
            m.clear();
        }
        m.insert(id, key.clone());
    });
    Ok(key)
}

/// Reads the shared tier into the cache; the outcome is read back through `plan`.
/// Bounded by its own short deadline: a slow Cache API must not cost more than the
/// issuer fetch it was meant to save.
async fn lookup(url: &Url, allowed: &[Algorithm]) {
    let since = now_ms();
    JWKS.with(|c| c.borrow_mut().lookup_started(since));
    let _abandon = AbandonOnDrop(since);
    let read = shared_tier::read(url, allowed);
    let found = with_deadline(read, Duration::from_millis(SHARED_LOOKUP_TIMEOUT_MS))
        .await
        .flatten();
    JWKS.with(|c| c.borrow_mut().looked_up(now_ms(), since, found));
}

/// Fetches the JWKS into the cache; the outcome is read back through `plan`. A set
/// with usable keys is then written to the shared tier under `waitUntil`, so the
/// write never delays this response.
///
/// Other requests do not await this future (`Plan::Join`): workerd ties I/O to the
/// request that started it, and a request whose only pending work belongs to another
/// request is cancelled as hung. They wait on timers of their own instead and read
/// the outcome from the cache.
async fn refresh(url: &Url, allowed: &[Algorithm], ctx: &worker::Context) {
    let since = now_ms();
    JWKS.with(|c| c.borrow_mut().fetch_started(since));
    let _abandon = AbandonOnDrop(since);
    let outcome = fetch_jwks(url).await.and_then(|(body, cache_control)| {
        let keys = parse_jwks(&body, allowed).map_err(|_| "JWKS is not a JWK Set".to_string())?;
        Ok((body, keys, cache_control))
    });
    let share = JWKS.with(|c| {
        let mut cache = c.borrow_mut();
        match outcome {
            Ok((body, keys, cache_control)) => cache
                .fetched(now_ms(), since, keys, cache_control.as_deref())
                .map(|lifetimes| (body, lifetimes)),
            Err(reason) => {
                cache.fetch_failed(now_ms(), since, reason);
                None
            }
        }
    });
    if let Some((body, lifetimes)) = share {
        ctx.wait_until(shared_tier::write(url.clone(), body, lifetimes));
    }
}

/// Waits for the fetch that started at `since` on this request's own timers, pausing
/// longer each time (each wake-up is billed CPU; a 5 s outage must not cost thousands
/// per waiting request).
async fn wait_for_fetch(since: f64) {
    let mut pause = 0;
    while JWKS.with(|c| c.borrow().in_flight()) == Some(since)
        && now_ms() - since < JOIN_DEADLINE_MS
    {
        pause = next_join_pause(pause);
        Delay::from(Duration::from_millis(pause)).await;
    }
}

/// Clears the in-flight mark when the fetching request is cancelled (its future
/// dropped) before recording an outcome, so a vanished fetch never blocks the next.
struct AbandonOnDrop(f64);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        let _ = JWKS.try_with(|c| {
            if let Ok(mut cache) = c.try_borrow_mut() {
                cache.fetch_abandoned(self.0);
            }
        });
    }
}

/// GET the JWKS: no redirects (a JWKS URL that redirects could be steered to keys of
/// the attacker's choosing), a deadline, and a size cap enforced while reading.
async fn fetch_jwks(url: &Url) -> Result<(Vec<u8>, Option<String>), String> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let headers = Headers::new();
    headers
        .set("accept", "application/json")
        .map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get)
        .with_redirect(RequestRedirect::Manual)
        .with_headers(headers);
    let request = Request::new_with_init(url.as_str(), &init).map_err(|e| e.to_string())?;

    let work = async {
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| format!("JWKS unreachable: {e}"))?;
        let status = response.status_code();
        if status != 200 {
            return Err(format!("JWKS answered HTTP {status}"));
        }
        let declared = response.headers().get("content-length").ok().flatten();
        let cache_control = response.headers().get("cache-control").ok().flatten();
        let stream = response.stream().map_err(|e| e.to_string())?;
        let body = read_capped(stream, declared.as_deref(), MAX_JWKS_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => format!("JWKS larger than {MAX_JWKS_BYTES} bytes"),
                ReadError::Failed(reason) => format!("JWKS read failed: {reason}"),
            })?;
        Ok((body, cache_control))
    };
    match with_deadline(work, Duration::from_millis(FETCH_TIMEOUT_MS)).await {
        Some(outcome) => outcome,
        None => {
            controller.abort();
            Err("JWKS fetch timed out".into())
        }
    }
}
