//! The task handlers as two plain functions around the one database round trip:
//!
//! - `plan` turns a parsed request into either an answer that needs no database
//!   (`Err`: 403 for a path naming another user, 404 for a malformed id, 400 for a
//!   malformed conditional header, 415/400/422 for bad input) or exactly one
//!   `RoundTrip` — one user-scoped data statement (after, in the same transaction, at
//!   most one housekeeping statement), so "at most one round trip per request" holds by
//!   type, as "no unscoped query" does through `UserScope`;
//! - `finish` turns the database's answer for that trip into the reply (status,
//!   `ETag`, `Location`, `Link`, 304, 404 for a row that is not the caller's, 409, 412).
//!
//! Neither does I/O, so every rule here is tested natively; `crate::adapter` runs the
//! trip in between. `finish` takes the raw `QueryResult`, so a reply body could later
//! come straight from the database without changing the flow.

use super::conditional::{self, etag, IfMatch, IfNoneMatch};
use super::input::{self, body_object, parse_task_id};
use super::listing::{self, ListQuery};
use super::sql::{self, Outcome};
use super::{Task, TaskOp};
use crate::auth::UserScope;
use crate::db::rls::Serialize;
use crate::db::{Access, DbError, QueryResult, Statement};
use crate::error::{ApiError, FieldError};
use crate::reply::Reply;

/// A task request as the adapter hands it over: routed, authenticated, body read
/// (empty when the operation takes none).
#[derive(Debug, Clone, Copy)]
pub struct TaskRequest<'a> {
    pub op: TaskOp,
    /// The `{user_id}` of the `/api/{user_id}/tasks…` form, percent-decoded.
    pub path_user: Option<&'a str>,
    /// The `{id}` segment as sent.
    pub task_id: Option<&'a str>,
    /// The request path, for the `Link` of a list.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// The conditional header the operation reads (`TaskOp::condition_header`):
    /// `If-None-Match` on a read of one task, `If-Match` on a write to one, and
    /// `Idempotency-Key` on a create.
    pub condition: Option<&'a str>,
    /// `TASKS_PER_USER_MAX`: a create beyond it is refused (409).
    pub quota: u32,
}

/// Exactly one round trip: the data statement, and what to do with its answer.
#[derive(Debug)]
pub struct RoundTrip<'a> {
    /// Runs first in the same transaction (forgetting expired idempotency keys).
    pub housekeeping: Option<Statement>,
    pub statement: Statement,
    pub access: Access,
    /// Whether the transaction queues behind the user's other exclusive ones.
    pub serialize: Serialize,
    pub then: Then<'a>,
}

/// How `finish` reads the statement's rows.
#[derive(Debug, PartialEq)]
pub enum Then<'a> {
    /// One task: 200 with its `ETag`, or 304 when `If-None-Match` matches it.
    Read(Option<IfNoneMatch>),
    /// A write to one task: 200 with the new `ETag`, 412, or 404.
    Written,
    /// A delete: 204, 412, or 404.
    Deleted,
    /// A create: 201 with `Location` and `ETag` (also a replay); 409 when the user
    /// holds `limit`; 422 when the idempotency key was used for another request.
    Created { limit: u32 },
    /// A page (one row more than asked, to know whether a next page exists).
    Page { query: ListQuery, path: &'a str },
}

impl<'a> RoundTrip<'a> {
    fn new(statement: Statement, access: Access, then: Then<'a>) -> Self {
        RoundTrip {
            housekeeping: None,
            statement,
            access,
            serialize: Serialize::Concurrent,
            then,
        }
    }
}

pub fn plan<'a>(user: &UserScope, req: &TaskRequest<'a>) -> Result<RoundTrip<'a>, ApiError> {
    // The frontend's `/api/{user_id}/tasks…` form: the path may only name the caller.
    if req.path_user.is_some_and(|u| u != user.user_id()) {
        return Err(ApiError::Forbidden);
    }
    let body = || body_object(req.op.body(), req.content_type, req.body);
    let write = |statement| RoundTrip::new(statement, Access::Write, Then::Written);
    match req.op {
        TaskOp::List => {
            let query = listing::list_query(req.query)?;
            let statement = sql::list(user, &query);
            let then = Then::Page {
                query,
                path: req.path,
            };
            Ok(RoundTrip::new(statement, Access::Read, then))
        }
        TaskOp::Create => create(user, req),
        TaskOp::Get => {
            let id = task_id(req)?;
            let condition = conditional::if_none_match(req.condition)?;
            Ok(RoundTrip::new(
                sql::get(user, id),
                Access::Read,
                Then::Read(condition),
            ))
        }
        TaskOp::Replace => {
            let (id, versions) = (task_id(req)?, if_match(req)?);
            let task = input::replacement(required(body()?)?)?;
            Ok(write(sql::replace(user, id, &task, versions.as_deref())))
        }
        TaskOp::Patch => {
            let (id, versions) = (task_id(req)?, if_match(req)?);
            let patch = input::patch(required(body()?)?)?;
            Ok(write(sql::patch(user, id, &patch, versions.as_deref())))
        }
        TaskOp::Complete => {
            let (id, versions) = (task_id(req)?, if_match(req)?);
            let versions = versions.as_deref();
            Ok(write(match body()? {
                None => sql::toggle(user, id, versions),
                Some(map) => sql::set_completed(user, id, input::completion(map)?, versions),
            }))
        }
        TaskOp::Delete => {
            let (id, versions) = (task_id(req)?, if_match(req)?);
            let statement = sql::delete(user, id, versions.as_deref());
            Ok(RoundTrip::new(statement, Access::Write, Then::Deleted))
        }
    }
}

/// A create runs under the user's lock (the quota and a retried key must see what the
/// user's previous create committed) and first forgets the user's expired keys.
fn create<'a>(user: &UserScope, req: &TaskRequest<'a>) -> Result<RoundTrip<'a>, ApiError> {
    let key = conditional::idempotency_key(req.condition);
    let task = body_object(req.op.body(), req.content_type, req.body)
        .and_then(required)
        .and_then(input::new_task);
    // Both problems in one 422 when both the key and the body are invalid.
    let (key, task) = match (key, task) {
        (Ok(key), Ok(task)) => (key, task),
        (Err(ApiError::Validation(mut a)), Err(ApiError::Validation(b))) => {
            a.extend(b);
            return Err(ApiError::Validation(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let fingerprint = conditional::request_fingerprint(&task);
    let limit = req.quota;
    let statement = sql::insert(user, &task, limit, key.map(|k| (k, fingerprint.as_str())));
    Ok(RoundTrip {
        housekeeping: Some(sql::purge_keys(user)),
        serialize: Serialize::PerUser,
        ..RoundTrip::new(statement, Access::Write, Then::Created { limit })
    })
}

/// A malformed id names no task: 404, like an unknown one, without a round trip.
fn task_id(req: &TaskRequest) -> Result<i64, ApiError> {
    req.task_id
        .and_then(parse_task_id)
        .ok_or(ApiError::NotFound)
}

/// The `If-Match` condition as the statement's parameter.
fn if_match(req: &TaskRequest) -> Result<Option<String>, ApiError> {
    let condition: Option<IfMatch> = conditional::if_match(req.condition)?;
    Ok(conditional::versions_param(condition.as_ref()))
}

/// Operations whose body is required always get `Some` from `body_object`.
fn required<T>(body: Option<T>) -> Result<T, ApiError> {
    body.ok_or_else(|| ApiError::Internal("a required body was not read".into()))
}

/// A single task's reply: its `ETag`, and a cache policy that lets the browser keep it
/// privately but revalidate every time (its own `If-None-Match` then gets a 304).
fn with_etag(status: u16, task: &Task) -> Reply {
    Reply::json(status, task).with_header("etag", etag(task.version))
}

fn revalidate(reply: Reply) -> Reply {
    reply.with_header("cache-control", "private, no-cache")
}

pub fn finish(then: Then, outcome: Result<QueryResult, DbError>) -> Result<Reply, ApiError> {
    let result = outcome.map_err(db_error)?;
    match then {
        Then::Read(condition) => {
            let task = sql::tasks_from(result)?.pop().ok_or(ApiError::NotFound)?;
            if condition.is_some_and(|c| c.matches(task.version)) {
                let not_modified = Reply::empty(304).with_header("etag", etag(task.version));
                return Ok(revalidate(not_modified));
            }
            Ok(revalidate(with_etag(200, &task)))
        }
        Then::Written => match sql::outcome_from(result)? {
            Outcome::Changed(Some(task)) => Ok(with_etag(200, &task)),
            other => Err(refusal(other)),
        },
        Then::Deleted => match sql::outcome_from(result)? {
            Outcome::Changed(_) => Ok(Reply::empty(204)),
            other => Err(refusal(other)),
        },
        Then::Created { limit } => match sql::outcome_from(result)? {
            Outcome::Changed(Some(task)) | Outcome::Replayed(task) => Ok(
                with_etag(201, &task).with_header("location", format!("/api/tasks/{}", task.id))
            ),
            Outcome::QuotaFull => Err(ApiError::QuotaExceeded { limit }),
            Outcome::KeyReused => Err(ApiError::Validation(vec![FieldError::new(
                "Idempotency-Key",
                "was already used for a different request within 24 hours",
            )])),
            // The statement always answers one row: none means the endpoint misbehaved.
            Outcome::Missing => Err(ApiError::from(DbError::Unavailable(
                "INSERT returned no row".into(),
            ))),
            other => Err(refusal(other)),
        },
        Then::Page { query, path } => {
            let mut tasks = sql::tasks_from(result)?;
            let more = tasks.len() > query.limit as usize;
            tasks.truncate(query.limit as usize);
            let mut reply = Reply::json(200, &tasks);
            if let (true, Some(last)) = (more, tasks.last()) {
                let cursor = listing::encode_cursor(&query, last);
                reply = reply.with_header("link", listing::next_link(path, &query, &cursor));
            }
            Ok(reply)
        }
    }
}

/// A write that did not happen: no such task (404), or `If-Match` named no current
/// version (412, with the current `ETag` so the client can refetch or retry).
fn refusal(outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::Missing => ApiError::NotFound,
        Outcome::PreconditionFailed { version } => ApiError::PreconditionFailed {
            etag: etag(version),
        },
        other => ApiError::Internal(format!("unexpected write outcome {other:?}")),
    }
}

/// A violated check (23514) or a value too long for its column (22001) on a constraint
/// of `tasks` names the field it guards; everything else maps the generic way
/// (`From<DbError> for ApiError`).
fn db_error(err: DbError) -> ApiError {
    if let DbError::Sql {
        code,
        constraint: Some(constraint),
        ..
    } = &err
    {
        let data_rule = code == "23514" || code == "22001";
        if let (true, Some(field)) = (data_rule, sql::constraint_field(constraint)) {
            return ApiError::Validation(vec![FieldError::new(
                field,
                "violates a database constraint",
            )]);
        }
    }
    ApiError::from(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::protocol::parse_single;

    const JSON: Option<&str> = Some("application/json");

    fn request(op: TaskOp) -> TaskRequest<'static> {
        TaskRequest {
            op,
            path_user: None,
            task_id: Some("7"),
            path: "/api/tasks",
            query: None,
            content_type: None,
            body: b"",
            condition: None,
            quota: 3,
        }
    }

    fn alice() -> UserScope {
        UserScope::for_tests("alice")
    }

    const TASK_FIELDS: &str = r#"{"name":"id","dataTypeID":20},{"name":"user_id","dataTypeID":25},
        {"name":"title","dataTypeID":25},{"name":"description","dataTypeID":25},
        {"name":"completed","dataTypeID":16},{"name":"version","dataTypeID":23},
        {"name":"created_at","dataTypeID":1184},{"name":"updated_at","dataTypeID":1184}"#;

    fn task_cells(id: i64, title: &str, version: i64) -> String {
        format!(
            r#""{id}","alice","{title}",null,"f","{version}","2026-11-26 11:08:51.5+00","2026-11-26 12:00:00+00""#
        )
    }

    /// A Neon reply holding task rows `(id, title)` of alice, at version 1.
    fn rows(tasks: &[(i64, &str)]) -> QueryResult {
        let rows: Vec<String> = tasks
            .iter()
            .map(|(id, title)| format!("[{}]", task_cells(*id, title, 1)))
            .collect();
        let body = format!(
            r#"{{"fields":[{TASK_FIELDS}],"rows":[{}]}}"#,
            rows.join(",")
        );
        parse_single(body.as_bytes()).unwrap()
    }

    /// A write's reply: one row with `outcome` and the task (or NULLs and a version).
    fn outcome(outcome: &str, task: Option<(i64, &str, i64)>, version: Option<i64>) -> QueryResult {
        let cells = match (task, version) {
            (Some((id, title, v)), _) => task_cells(id, title, v),
            (None, Some(v)) => format!(r#"null,null,null,null,null,"{v}",null,null"#),
            (None, None) => "null,null,null,null,null,null,null,null".into(),
        };
        let body = format!(
            r#"{{"fields":[{{"name":"outcome","dataTypeID":25}},{TASK_FIELDS}],"rows":[["{outcome}",{cells}]]}}"#
        );
        parse_single(body.as_bytes()).unwrap()
    }

    fn no_rows() -> QueryResult {
        let body = format!(
            r#"{{"fields":[{{"name":"outcome","dataTypeID":25}},{TASK_FIELDS}],"rows":[]}}"#
        );
        parse_single(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_path_naming_another_user_is_forbidden_before_anything_else() {
        for op in [TaskOp::List, TaskOp::Get, TaskOp::Create, TaskOp::Delete] {
            let req = TaskRequest {
                path_user: Some("bob"),
                task_id: Some("not-an-id"),
                ..request(op)
            };
            assert_eq!(plan(&alice(), &req).unwrap_err(), ApiError::Forbidden);
        }
        let own = TaskRequest {
            path_user: Some("alice"),
            ..request(TaskOp::Get)
        };
        assert!(plan(&alice(), &own).is_ok());
    }

    #[test]
    fn a_malformed_id_is_not_found_without_a_round_trip() {
        for op in [TaskOp::Get, TaskOp::Delete, TaskOp::Complete] {
            for id in ["0", "07", "+7", "7.0", "x", "99999999999999999999"] {
                let req = TaskRequest {
                    task_id: Some(id),
                    ..request(op)
                };
                assert_eq!(
                    plan(&alice(), &req).unwrap_err(),
                    ApiError::NotFound,
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn each_operation_plans_one_scoped_statement() {
        let cases = [
            (TaskOp::Get, sql::GET, Access::Read),
            (TaskOp::Delete, sql::DELETE, Access::Write),
            (TaskOp::Complete, sql::TOGGLE, Access::Write),
            (TaskOp::List, sql::LIST_CREATED_DESC, Access::Read),
        ];
        for (op, want, access) in cases {
            let trip = plan(&alice(), &request(op)).unwrap();
            assert_eq!(trip.statement.sql(), want);
            assert_eq!(trip.access, access);
            assert_eq!(trip.statement.params()[0].as_deref(), Some("alice"));
            assert_eq!(trip.housekeeping, None);
            assert_eq!(trip.serialize, Serialize::Concurrent);
        }
    }

    #[test]
    fn complete_toggles_without_a_body_and_sets_with_one() {
        let toggle = plan(&alice(), &request(TaskOp::Complete)).unwrap();
        assert_eq!(toggle.statement.sql(), sql::TOGGLE);
        let set = TaskRequest {
            content_type: JSON,
            body: br#"{"completed":false}"#,
            ..request(TaskOp::Complete)
        };
        let set = plan(&alice(), &set).unwrap();
        assert_eq!(set.statement.sql(), sql::SET_COMPLETED);
        assert_eq!(set.statement.params()[2].as_deref(), Some("false"));
        let wrong = TaskRequest {
            content_type: JSON,
            body: br#"{"completed":"yes"}"#,
            ..request(TaskOp::Complete)
        };
        assert!(matches!(
            plan(&alice(), &wrong),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn bodies_are_checked_before_any_statement() {
        let no_type = TaskRequest {
            body: br#"{"title":"x"}"#,
            ..request(TaskOp::Create)
        };
        assert_eq!(
            plan(&alice(), &no_type).unwrap_err(),
            ApiError::UnsupportedMediaType
        );
        let broken = TaskRequest {
            content_type: JSON,
            body: b"{",
            ..request(TaskOp::Create)
        };
        assert!(matches!(
            plan(&alice(), &broken),
            Err(ApiError::BadRequest(_))
        ));
        let ok = TaskRequest {
            content_type: JSON,
            body: br#"{"title":" Milk "}"#,
            ..request(TaskOp::Create)
        };
        let trip = plan(&alice(), &ok).unwrap();
        assert_eq!(trip.statement.sql(), sql::INSERT);
        assert_eq!(trip.statement.params()[1].as_deref(), Some("Milk"));
        assert_eq!(
            trip.statement.params()[4].as_deref(),
            Some("3"),
            "the quota"
        );
        assert_eq!(trip.then, Then::Created { limit: 3 });
        assert_eq!(
            trip.serialize,
            Serialize::PerUser,
            "quota checks queue per user"
        );
        assert_eq!(
            trip.housekeeping.as_ref().map(Statement::sql),
            Some(sql::PURGE_KEYS),
            "a create forgets the user's expired keys first"
        );
    }

    #[test]
    fn if_match_becomes_the_statement_condition() {
        let cases = [
            (None, None),
            (Some("*"), None),
            (Some(r#""4""#), Some("{4}")),
            (Some(r#"W/"4""#), Some("{}")),
            (Some(r#""4", "5""#), Some("{4,5}")),
        ];
        for (header, param) in cases {
            let req = TaskRequest {
                condition: header,
                ..request(TaskOp::Delete)
            };
            let trip = plan(&alice(), &req).unwrap();
            assert_eq!(trip.statement.params()[2].as_deref(), param, "{header:?}");
        }
        let malformed = TaskRequest {
            condition: Some("4"),
            ..request(TaskOp::Complete)
        };
        assert!(matches!(
            plan(&alice(), &malformed),
            Err(ApiError::BadRequest(d)) if d.contains("If-Match")
        ));
        // A malformed id is still a 404 first.
        let both = TaskRequest {
            task_id: Some("x"),
            ..malformed
        };
        assert_eq!(plan(&alice(), &both).unwrap_err(), ApiError::NotFound);
    }

    #[test]
    fn an_idempotency_key_selects_the_replaying_insert() {
        let req = TaskRequest {
            content_type: JSON,
            body: br#"{"title":"Milk"}"#,
            condition: Some("key-1"),
            ..request(TaskOp::Create)
        };
        let trip = plan(&alice(), &req).unwrap();
        assert_eq!(trip.statement.sql(), sql::INSERT_IDEMPOTENT);
        assert_eq!(trip.statement.params()[5].as_deref(), Some("key-1"));
        assert_eq!(
            trip.statement.params()[6].as_deref(),
            Some(r#"{"title":"Milk","description":null,"completed":false}"#)
        );
        let both_bad = TaskRequest {
            body: br#"{"title":""}"#,
            condition: Some("no spaces allowed"),
            ..req
        };
        match plan(&alice(), &both_bad) {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["Idempotency-Key", "title"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_read_carries_its_etag_and_a_matching_if_none_match_is_a_304() {
        let ok = finish(Then::Read(None), Ok(rows(&[(7, "t")]))).unwrap();
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("etag"), Some("\"1\""));
        assert_eq!(ok.header("cache-control"), Some("private, no-cache"));
        let current = conditional::if_none_match(Some(r#"W/"1""#)).unwrap();
        let cached = finish(Then::Read(current), Ok(rows(&[(7, "t")]))).unwrap();
        assert_eq!(cached.status, 304);
        assert!(cached.body.is_empty());
        assert_eq!(cached.header("etag"), Some("\"1\""));
        assert_eq!(cached.header("cache-control"), Some("private, no-cache"));
        let stale = conditional::if_none_match(Some(r#""2""#)).unwrap();
        assert_eq!(
            finish(Then::Read(stale), Ok(rows(&[(7, "t")])))
                .unwrap()
                .status,
            200
        );
        assert_eq!(
            finish(Then::Read(None), Ok(rows(&[]))).unwrap_err(),
            ApiError::NotFound
        );
    }

    #[test]
    fn a_write_answers_200_with_the_new_etag_412_with_the_current_one_or_404() {
        let done = finish(
            Then::Written,
            Ok(outcome("changed", Some((7, "t", 5)), None)),
        )
        .unwrap();
        assert_eq!((done.status, done.header("etag")), (200, Some("\"5\"")));
        let stale = finish(
            Then::Written,
            Ok(outcome("precondition_failed", None, Some(6))),
        );
        let err = stale.unwrap_err();
        assert_eq!(err.status(), 412);
        assert_eq!(err.headers(), vec![("etag", "\"6\"".to_string())]);
        assert_eq!(
            finish(Then::Written, Ok(no_rows())).unwrap_err(),
            ApiError::NotFound
        );
        assert_eq!(
            finish(Then::Deleted, Ok(no_rows())).unwrap_err(),
            ApiError::NotFound
        );
        let deleted = r#"{"fields":[{"name":"outcome","dataTypeID":25},{"name":"version","dataTypeID":23}],"rows":[["changed","3"]]}"#;
        let deleted = parse_single(deleted.as_bytes()).unwrap();
        assert_eq!(finish(Then::Deleted, Ok(deleted)).unwrap().status, 204);
    }

    #[test]
    fn a_create_answers_201_with_location_and_etag_also_when_replayed() {
        for kind in ["created", "replayed"] {
            let reply = finish(
                Then::Created { limit: 9 },
                Ok(outcome(kind, Some((42, "Milk", 1)), None)),
            )
            .unwrap();
            assert_eq!(reply.status, 201);
            assert_eq!(reply.header("location"), Some("/api/tasks/42"));
            assert_eq!(reply.header("etag"), Some("\"1\""));
            let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(body["id"], 42);
            assert_eq!(body["version"], 1);
            assert_eq!(body["created_at"], "2026-11-26T11:08:51.500000Z");
        }
    }

    #[test]
    fn a_create_beyond_the_quota_is_a_conflict_naming_the_limit() {
        let err = finish(Then::Created { limit: 3 }, Ok(outcome("full", None, None))).unwrap_err();
        assert_eq!(err, ApiError::QuotaExceeded { limit: 3 });
        assert_eq!(err.status(), 409);
        assert!(err.problem()["detail"].as_str().unwrap().contains('3'));
        // An endpoint answering an insert with no row at all is broken, not a quota.
        assert_eq!(
            finish(Then::Created { limit: 3 }, Ok(no_rows()))
                .unwrap_err()
                .status(),
            503
        );
        let reused = finish(
            Then::Created { limit: 3 },
            Ok(outcome("key_reused", None, None)),
        );
        match reused.unwrap_err() {
            ApiError::Validation(errors) => assert_eq!(errors[0].field, "Idempotency-Key"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_page_links_to_the_next_only_when_more_rows_exist() {
        let query = listing::list_query(Some("limit=2")).unwrap();
        let page = |n: i64| {
            let titles: Vec<(i64, &str)> = (1..=n).map(|i| (i, "t")).collect();
            finish(
                Then::Page {
                    query: query.clone(),
                    path: "/api/u/tasks",
                },
                Ok(rows(&titles)),
            )
            .unwrap()
        };
        let full = page(3);
        let items: Vec<serde_json::Value> = serde_json::from_slice(&full.body).unwrap();
        assert_eq!(items.len(), 2, "the extra row is not shown");
        assert_eq!(items[0]["version"], 1, "list items carry their version");
        let link = full.header("link").unwrap();
        assert!(link.starts_with("</api/u/tasks?sort=created_at&order=desc&limit=2&cursor="));
        assert!(link.ends_with(">; rel=\"next\""));
        assert_eq!(page(2).header("link"), None);
        assert_eq!(page(0).header("link"), None);
    }

    #[test]
    fn database_errors_become_problems() {
        let check = DbError::Sql {
            code: "23514".into(),
            constraint: Some("tasks_title_length".into()),
            message: "new row violates check constraint".into(),
        };
        assert_eq!(
            finish(Then::Written, Err(check)).unwrap_err(),
            ApiError::Validation(vec![FieldError::new(
                "title",
                "violates a database constraint"
            )])
        );
        let down = finish(Then::Written, Err(DbError::Unavailable("down".into()))).unwrap_err();
        assert_eq!(down.status(), 503);
    }
}
