//! The HTTP surface: routing (`routes`), per-isolate state, the request log, and the
//! split between public and protected handlers.
//!
//! Read `routes.rs` first (what exists and what is protected), then `handle` below
//! (how a request flows: route → config → authenticate → handler → log).

pub mod cors;
pub mod input;
pub mod openapi;
pub mod routes;

#[cfg(target_arch = "wasm32")]
mod worker_entry;

#[cfg(target_arch = "wasm32")]
pub use worker_entry::handle;
