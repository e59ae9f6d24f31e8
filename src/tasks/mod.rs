//! The task resource, as plain Rust: what a task is, the rules its input follows, how
//! a list is queried and paged, every SQL statement about tasks, and the handlers that
//! turn a request into at most one database round trip and its result into a reply.
//!
//! Nothing here touches the Workers runtime, so `cargo test` covers all of it; the
//! wasm adapter (`crate::adapter`) only moves bytes in and out.
//!
//! Reading order: this file (the domain types) → `input` (bodies and ids) → `listing`
//! (list query, cursor, `Link`) → `sql` (the statements, each bound to a `UserScope`)
//! → `handlers` (`plan` a request, `finish` with the database's answer).

pub mod conditional;
pub mod handlers;
pub mod input;
pub mod listing;
pub mod sql;

use serde::Serialize;

use crate::timestamp::Timestamp;

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: i64,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    /// 1 on create, +1 on every change; the task's ETag is `"<version>"`.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Field values for an insert or a full replace, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
}

/// A partial update; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

/// What a request asks of the task resource (the route table maps method and path to
/// one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOp {
    List,
    Create,
    Get,
    Replace,
    Patch,
    Delete,
    /// `PATCH …/complete`: toggles, or sets from an optional `{"completed": bool}`.
    Complete,
}

impl TaskOp {
    /// The one conditional header this operation reads, if any.
    pub fn condition_header(self) -> Option<&'static str> {
        match self {
            TaskOp::Get => Some("if-none-match"),
            TaskOp::Replace | TaskOp::Patch | TaskOp::Complete | TaskOp::Delete => Some("if-match"),
            TaskOp::Create => Some("idempotency-key"),
            TaskOp::List => None,
        }
    }

    /// Changes data (and so counts against the write rate limit).
    pub fn is_write(self) -> bool {
        !matches!(self, TaskOp::List | TaskOp::Get)
    }

    /// Whether the adapter reads the request body for this operation.
    pub fn body(self) -> input::BodyNeed {
        match self {
            TaskOp::Create | TaskOp::Replace | TaskOp::Patch => input::BodyNeed::Object,
            TaskOp::Complete => input::BodyNeed::OptionalObject,
            TaskOp::List | TaskOp::Get | TaskOp::Delete => input::BodyNeed::None,
        }
    }
}
