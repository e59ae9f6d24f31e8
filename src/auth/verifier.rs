//! `authenticate`: the verification pipeline inside workerd, with the per-isolate
//! caches it needs (JWKS, imported `CryptoKey`s, one in-flight fetch).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use url::Url;
use web_sys::CryptoKey;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use super::algorithm::Algorithm;
use super::claims::ClaimPolicy;
use super::jwk::{parse_jwks, select_key, Jwk, NoKey};
use super::jwks::{JwksCache, Plan, FETCH_TIMEOUT_MS, MAX_JWKS_BYTES, RETRY_AFTER_SECONDS};
use super::token::{self, signature_length_ok};
use super::{webcrypto, AuthError, UserScope};
use crate::config::AuthConfig;
use crate::error::ApiError;

/// Imported keys kept per isolate. Bounded so a JWKS that keeps changing cannot grow
/// the isolate's memory without limit.
const MAX_IMPORTED_KEYS: usize = 32;

thread_local! {
    static JWKS: RefCell<JwksCache> = RefCell::new(JwksCache::default());
    /// When the in-flight JWKS fetch started, if one is running.
    static FETCH_STARTED: Cell<Option<f64>> = const { Cell::new(None) };
    static IMPORTED: RefCell<HashMap<(Rc<str>, Algorithm), CryptoKey>> = RefCell::new(HashMap::new());
    static HMAC_KEY: RefCell<Option<CryptoKey>> = const { RefCell::new(None) };
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Verifies the request's bearer token and returns the caller's scope.
pub async fn authenticate(
    req: &web_sys::Request,
    config: &AuthConfig,
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
        jwks_key(config, parsed.algorithm, parsed.key_id.as_deref()).await?
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

async fn jwks_key(
    config: &AuthConfig,
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<CryptoKey, ApiError> {
    let url = config
        .jwks_url
        .as_ref()
        .ok_or(AuthError::AlgorithmNotAllowed)?;
    let mut unknown_key = false;
    let mut fetch_error = None;
    loop {
        if JWKS.with(|c| c.borrow().plan(now_ms(), unknown_key)) == Plan::Fetch {
            fetch_error = refresh(url, &config.algorithms).await.err();
        }
        let Some(set) = JWKS.with(|c| c.borrow().usable(now_ms())) else {
            return Err(ApiError::Unavailable {
                retry_after: RETRY_AFTER_SECONDS,
                reason: format!(
                    "no JWKS keys: {}",
                    fetch_error.unwrap_or_else(|| "not fetched".into())
                ),
            });
        };
        match select_key(&set.keys, alg, kid) {
            Ok(jwk) => return imported(jwk, alg).await,
            Err(NoKey::NotFound) if !unknown_key => unknown_key = true,
            Err(NoKey::NotFound) => return Err(AuthError::UnknownKey.into()),
            Err(NoKey::Mismatch) => return Err(AuthError::KeyMismatch.into()),
            Err(NoKey::Ambiguous) => return Err(AuthError::AmbiguousKey.into()),
        }
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

/// Fetches the JWKS into the cache; concurrent callers share one fetch.
///
/// Joiners do not await the fetching request's future: workerd ties I/O to the
/// request that started it, and a request whose only pending work belongs to another
/// request is cancelled as hung. They wait on timers of their own instead and read
/// the outcome from the cache.
async fn refresh(url: &Url, allowed: &[Algorithm]) -> Result<(), String> {
    let now = now_ms();
    if let Some(since) = FETCH_STARTED.get() {
        if now - since < JOIN_DEADLINE_MS {
            return wait_for_fetch(since).await;
        }
        // The fetching request vanished without clearing its mark: fetch anew.
    }
    FETCH_STARTED.set(Some(now));
    let _clear = ClearOnDrop(now);
    JWKS.with(|c| c.borrow_mut().attempt_started(now));
    let outcome = fetch_jwks(url).await.and_then(|(body, cache_control)| {
        let keys = parse_jwks(&body, allowed).map_err(|_| "JWKS is not a JWK Set".to_string())?;
        Ok((keys, cache_control))
    });
    JWKS.with(|c| {
        let mut cache = c.borrow_mut();
        match outcome {
            Ok((keys, cache_control)) => {
                cache.fetched(now_ms(), keys, cache_control.as_deref());
                Ok(())
            }
            Err(reason) => {
                cache.fetch_failed(reason.clone());
                Err(reason)
            }
        }
    })
}

/// How long a joiner waits for someone else's fetch: its deadline plus slack.
const JOIN_DEADLINE_MS: f64 = FETCH_TIMEOUT_MS as f64 + 1000.0;
const JOIN_POLL: Duration = Duration::from_millis(2);

async fn wait_for_fetch(since: f64) -> Result<(), String> {
    while FETCH_STARTED.get() == Some(since) && now_ms() - since < JOIN_DEADLINE_MS {
        Delay::from(JOIN_POLL).await;
    }
    JWKS.with(|c| {
        c.borrow()
            .last_error()
            .map_or(Ok(()), |e| Err(e.to_string()))
    })
}

/// Clears the in-flight mark when the fetching request finishes or is cancelled
/// (its future dropped), so a vanished fetch never blocks the next one.
struct ClearOnDrop(f64);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        if FETCH_STARTED.get() == Some(self.0) {
            FETCH_STARTED.set(None);
        }
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
        let too_large = || format!("JWKS larger than {MAX_JWKS_BYTES} bytes");
        let declared = response.headers().get("content-length").ok().flatten();
        if declared
            .and_then(|l| l.parse::<usize>().ok())
            .is_some_and(|l| l > MAX_JWKS_BYTES)
        {
            return Err(too_large());
        }
        let cache_control = response.headers().get("cache-control").ok().flatten();
        let mut stream = response.stream().map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("JWKS read failed: {e}"))?;
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, cache_control))
    };
    let deadline = Delay::from(Duration::from_millis(FETCH_TIMEOUT_MS));
    futures_util::pin_mut!(work);
    match select(work, deadline).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => {
            controller.abort();
            Err("JWKS fetch timed out".into())
        }
    }
}
