//! The signature check, done by the runtime's WebCrypto (`crypto.subtle`): native code
//! in workerd, constant-time where it matters (HMAC), and no crypto compiled into our
//! wasm.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto, WorkerGlobalScope};

use super::algorithm::Algorithm;

thread_local! {
    // Looked up once per isolate: three crossings into JS per verify otherwise.
    static SUBTLE: RefCell<Option<SubtleCrypto>> = const { RefCell::new(None) };
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    if let Some(subtle) = SUBTLE.with(|s| s.borrow().clone()) {
        return Ok(subtle);
    }
    // Workers have no `window`; `crypto` hangs off the global scope.
    let subtle = js_sys::global()
        .unchecked_into::<WorkerGlobalScope>()
        .crypto()?
        .subtle();
    SUBTLE.with(|s| *s.borrow_mut() = Some(subtle.clone()));
    Ok(subtle)
}

thread_local! {
    // The parameter objects are immutable; parsing them once per isolate keeps the
    // per-request work to the verify call itself.
    static PARAMS: RefCell<HashMap<(&'static str, Algorithm), Object>> = RefCell::new(HashMap::new());
}

fn params(kind: &'static str, alg: Algorithm) -> Result<Object, JsValue> {
    if let Some(obj) = PARAMS.with(|p| p.borrow().get(&(kind, alg)).cloned()) {
        return Ok(obj);
    }
    let spec = alg.spec();
    let text = if kind == "import" {
        spec.import
    } else {
        spec.verify
    };
    let obj: Object = JSON::parse(text)?.unchecked_into();
    PARAMS.with(|p| p.borrow_mut().insert((kind, alg), obj.clone()));
    Ok(obj)
}

fn verify_usage() -> JsValue {
    Array::of1(&JsValue::from_str("verify")).into()
}

/// Imports a public JWK (already matched to `alg`) as a non-extractable verify key.
pub async fn import_jwk(jwk: &serde_json::Value, alg: Algorithm) -> Result<CryptoKey, JsValue> {
    let key_data: Object = JSON::parse(&jwk.to_string())?.unchecked_into();
    let promise = subtle()?.import_key_with_object(
        "jwk",
        &key_data,
        &params("import", alg)?,
        false,
        &verify_usage(),
    )?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// Imports the HS256 shared secret; its UTF-8 bytes are the HMAC key.
pub async fn import_hmac(secret: &[u8]) -> Result<CryptoKey, JsValue> {
    let key_data: Object = Uint8Array::from(secret).into();
    let promise = subtle()?.import_key_with_object(
        "raw",
        &key_data,
        &params("import", Algorithm::Hs256)?,
        false,
        &verify_usage(),
    )?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

pub async fn verify(
    alg: Algorithm,
    key: &CryptoKey,
    signature: &[u8],
    data: &[u8],
) -> Result<bool, JsValue> {
    let promise = subtle()?.verify_with_object_and_u8_array_and_u8_array(
        &params("verify", alg)?,
        key,
        signature,
        data,
    )?;
    Ok(JsFuture::from(promise).await?.as_bool() == Some(true))
}

/// Lower-case hex SHA-256 of `data` (the shared tier's cache key).
pub async fn sha256_hex(data: &[u8]) -> Result<String, JsValue> {
    let promise = subtle()?.digest_with_str_and_u8_array("SHA-256", data)?;
    let digest = Uint8Array::new(&JsFuture::from(promise).await?).to_vec();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}
