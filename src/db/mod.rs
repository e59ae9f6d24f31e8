//! The data layer: Neon's SQL-over-HTTP protocol (`protocol`, pure and natively
//! tested), its transport (`client`, wasm only), and the user-scoped task
//! repository (`tasks`), which holds every SQL statement the worker sends.

pub mod protocol;
pub mod tasks;

#[cfg(target_arch = "wasm32")]
pub mod client;

pub use protocol::{Access, DbError, QueryResult, Statement};
