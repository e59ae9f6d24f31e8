//! The JWKS's second tier: the Workers Cache API, shared by the isolates of a
//! location (docs/token-policy.md §6). When to read it and what to do with what it holds is decided
//! in `jwks.rs`; this is only the I/O, and every failure in it is a miss: the tier is
//! best effort, and without it the worker fetches from the issuer as before.
//!
//! Every call into the runtime goes through `js_sys::Function::call*`, which turns a
//! JavaScript exception into an `Err`: a Cache API that is absent or throws must
//! never unwind through our wasm.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use url::Url;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response, ResponseInit};

use super::algorithm::Algorithm;
use super::jwk::{parse_jwks, Jwk};
use super::jwks::{shared_key, Lifetimes, MAX_JWKS_BYTES, SHARED_CACHE_NAME};
use super::webcrypto;

thread_local! {
    // The JWKS URL cannot change within an isolate: its key is hashed once.
    static KEY: RefCell<Option<Rc<str>>> = const { RefCell::new(None) };
}

async fn key_for(url: &Url) -> Option<Rc<str>> {
    if let Some(key) = KEY.with(|k| k.borrow().clone()) {
        return Some(key);
    }
    let hex = webcrypto::sha256_hex(url.as_str().as_bytes()).await.ok()?;
    let key: Rc<str> = shared_key(&hex).into();
    KEY.with(|k| *k.borrow_mut() = Some(Rc::clone(&key)));
    Some(key)
}

/// `target.method(args…)`, with a thrown exception (or a missing method) as `Err`.
fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = Reflect::get(target, &JsValue::from_str(method))?.dyn_into()?;
    match args {
        [] => function.call0(target),
        [a] => function.call1(target, a),
        [a, b] => function.call2(target, a, b),
        _ => Err(JsValue::from_str("unsupported arity")),
    }
}

async fn settle(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value)).await
}

/// The named cache. Opened per use, not kept per isolate: it is used about once per
/// key lifetime, and a runtime object kept across requests risks workerd's rule that
/// I/O objects belong to the request that made them.
async fn open() -> Option<JsValue> {
    let caches = Reflect::get(&js_sys::global(), &JsValue::from_str("caches")).ok()?;
    if !caches.is_object() {
        return None;
    }
    let cache = settle(call(&caches, "open", &[&SHARED_CACHE_NAME.into()]).ok()?)
        .await
        .ok()?;
    cache.is_object().then_some(cache)
}

/// The shared set for `url`, if the tier holds one this worker wrote and its keys
/// parse under `allowed` (the body is the issuer's own JWKS, so a deployment with
/// another allowlist reads the same entry its own way).
pub async fn read(url: &Url, allowed: &[Algorithm]) -> Option<(Vec<Jwk>, Lifetimes)> {
    let key = key_for(url).await?;
    let cache = open().await?;
    let found = settle(call(&cache, "match", &[&JsValue::from_str(&key)]).ok()?)
        .await
        .ok()?;
    if !found.is_object() {
        return None;
    }
    let response: Response = found.unchecked_into();
    if response.status() != 200 {
        return None;
    }
    let headers = response.headers();
    let lifetimes =
        Lifetimes::from_headers(js_sys::Date::now(), |name| headers.get(name).ok().flatten())?;
    let buffer = settle(call(&response, "arrayBuffer", &[]).ok()?)
        .await
        .ok()?;
    let bytes = Uint8Array::new(&buffer);
    if bytes.length() as usize > MAX_JWKS_BYTES {
        return None;
    }
    let keys = parse_jwks(&bytes.to_vec(), allowed).ok()?;
    Some((keys, lifetimes))
}

/// Stores the issuer's JWKS body with its lifetimes. Runs under `ctx.waitUntil`, after
/// the response has gone; its outcome is ignored.
pub async fn write(url: Url, mut body: Vec<u8>, lifetimes: Lifetimes) {
    let _ = try_write(&url, &mut body, lifetimes).await;
}

async fn try_write(url: &Url, body: &mut [u8], lifetimes: Lifetimes) -> Option<()> {
    let key = key_for(url).await?;
    let headers = Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    for (name, value) in lifetimes.to_headers(js_sys::Date::now()) {
        headers.set(name, &value).ok()?;
    }
    let init = ResponseInit::new();
    init.set_status(200);
    init.set_headers(&headers);
    let response = Response::new_with_opt_u8_array_and_init(Some(body), &init).ok()?;
    let cache = open().await?;
    let put = call(&cache, "put", &[&JsValue::from_str(&key), &response]).ok()?;
    settle(put).await.ok()?;
    Some(())
}
