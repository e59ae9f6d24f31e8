//! Keeps the connection string on the one host it is meant for.
//!
//! Every SQL request carries `Neon-Connection-String` — the database password. The
//! runtime's `fetch` follows redirects by default, and on a 307/308 it replays the
//! method, body and custom headers to the new location: an endpoint (or anything in
//! front of it) answering with a redirect would hand the password to another host.
//! reqwest's wasm client, our transport, sets no redirect mode and offers no option
//! for one, so the guard sits below it: once per isolate, the global `fetch` is
//! wrapped so that any request carrying that header goes out with
//! `redirect: "manual"`. The redirect then comes back as what it is — a 3xx — which
//! the client treats as the endpoint failing (503), never retried. Every other fetch
//! passes through untouched.

use std::cell::Cell;

use js_sys::{Function, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Request, RequestInit, RequestRedirect};

/// The header that marks a request as ours to guard.
const GUARDED_HEADER: &str = "neon-connection-string";

thread_local! {
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// Wraps the global `fetch` once per isolate. Failing to install is reported, so the
/// client can refuse to send rather than send unguarded.
pub fn install() -> Result<(), String> {
    if INSTALLED.get() {
        return Ok(());
    }
    let global = js_sys::global();
    let original: Function = Reflect::get(&global, &JsValue::from_str("fetch"))
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("the runtime has no global fetch")?;
    let this = global.clone();
    let guarded = Closure::<dyn Fn(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
        move |input: JsValue, init: JsValue| -> Result<JsValue, JsValue> {
            match input.dyn_ref::<Request>() {
                Some(request) if request.headers().has(GUARDED_HEADER).unwrap_or(true) => {
                    // A request's redirect mode is fixed at construction: copy it with
                    // "manual" (body, headers and abort signal come along).
                    let manual = RequestInit::new();
                    manual.set_redirect(RequestRedirect::Manual);
                    let copy = Request::new_with_request_and_init(request, &manual)?;
                    original.call1(&this, &copy)
                }
                _ => original.call2(&this, &input, &init),
            }
        },
    );
    Reflect::set(&global, &JsValue::from_str("fetch"), guarded.as_ref())
        .map_err(|_| "the global fetch cannot be replaced".to_string())?;
    // Lives as long as the isolate, like the global it replaces.
    guarded.forget();
    INSTALLED.set(true);
    Ok(())
}
