//! The data layer: Neon's SQL-over-HTTP protocol (`protocol`, pure and natively
//! tested) and its transport (`client`, wasm only).

pub mod protocol;

#[cfg(target_arch = "wasm32")]
pub mod client;

pub use protocol::{Access, DbError, QueryResult, Statement};
