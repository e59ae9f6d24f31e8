//! The data layer: Neon's SQL-over-HTTP wire format (`protocol`, pure and natively
//! tested), row-level security's per-transaction prefix (`rls`), and the transport
//! (`client`, wasm only), which sends every statement inside that prefix's batch. The
//! statements themselves live with the resource they serve (`crate::tasks::sql`);
//! `audit` (tests only) checks every SQL text in the crate for the user predicate.

pub mod protocol;
pub mod rls;

#[cfg(test)]
pub mod audit;
#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
mod redirect_guard;

pub use protocol::{Access, DbError, QueryResult, Statement};
