//! Task API at the edge: a Cloudflare Worker in Rust.
//!
//! Reading order, following a request: `adapter` (the wasm adapter: how a request flows
//! through everything below) → `api::routes` (what is served, and which operations
//! are public) → `config` (what the worker needs to run) → `auth` (the authentication
//! boundary; its only product is a `UserScope`) → `tasks` (the task resource: input
//! rules, listing, SQL, handlers) → `db` (Neon's SQL-over-HTTP wire format and client)
//! → `error` and `reply` (the one error type and the response it renders to).
//!
//! Only `adapter`, the Neon client and the WebCrypto/JWKS parts of `auth` need the
//! Workers runtime and compile for wasm32 alone; everything else is plain Rust,
//! unit-tested natively with `cargo test`.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod reply;
pub mod tasks;
pub mod timestamp;

#[cfg(target_arch = "wasm32")]
pub mod adapter;

/// Takes and returns the runtime's own `Request`/`Response`: the worker crate's
/// wrappers would convert method, URL, `cf` and headers on every request, and we
/// only need a few headers.
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<web_sys::Response> {
    adapter::handle(req, env, &ctx).await
}
