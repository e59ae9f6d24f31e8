//! The data layer: Neon's SQL-over-HTTP wire format (`protocol`, pure and natively
//! tested) and its transport (`client`, wasm only). The statements themselves live
//! with the resource they serve (`crate::tasks::sql`); `audit` (tests only) checks
//! every SQL text in the crate for the user predicate.

pub mod protocol;

#[cfg(test)]
pub mod audit;
#[cfg(target_arch = "wasm32")]
pub mod client;

pub use protocol::{Access, DbError, QueryResult, Statement};
