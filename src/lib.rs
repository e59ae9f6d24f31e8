//! Task API at the edge: a Cloudflare Worker in Rust.
//!
//! Reading order: `config` (what the worker needs to run) → `api::routes` (what it
//! serves, and which routes are public) → `api` (how a request flows) → `auth` (the authentication boundary) → `error` (the
//! one error type and its statuses) → `db` (Neon's SQL-over-HTTP protocol and client).
//!
//! Modules that need the Workers runtime are compiled for wasm32 only; everything
//! else is plain Rust, unit-tested natively with `cargo test`.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;

/// Takes and returns the runtime's own `Request`/`Response`: the worker crate's
/// wrappers would convert method, URL, `cf` and headers on every request, and we
/// only need a few headers.
#[cfg(target_arch = "wasm32")]
#[worker::event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<web_sys::Response> {
    api::handle(req, env).await
}
