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

use wasm_bindgen::prelude::wasm_bindgen;

// Written in JavaScript, not as a Rust closure: the wrapper runs on every fetch, and
// from JavaScript it costs no crossing into wasm and no copy of its own — `fetch`
// builds a new Request from its arguments anyway, so the init's `redirect` rides on
// that one construction (the request's body, headers and abort signal come along).
// reqwest always passes a `Request`; anything else goes on exactly as it came.
#[wasm_bindgen(inline_js = r#"
export function installRedirectGuard(header) {
  const original = globalThis.fetch;
  if (typeof original !== 'function') return false;
  const manual = { redirect: 'manual' };
  globalThis.fetch = function fetch(input, init) {
    if (input instanceof Request && input.headers.has(header)) {
      return original.call(globalThis, input, init === undefined ? manual : { ...init, ...manual });
    }
    return original.call(globalThis, input, init);
  };
  return true;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = installRedirectGuard)]
    fn install_redirect_guard(header: &str) -> bool;
}

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
    if !install_redirect_guard(GUARDED_HEADER) {
        return Err("the runtime has no global fetch".into());
    }
    INSTALLED.set(true);
    Ok(())
}
