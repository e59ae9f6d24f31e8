//! The task handlers as two plain functions around the one database round trip:
//!
//! - `plan` turns a parsed request into either an answer that needs no database
//!   (`Err`: 403 for a path naming another user, 404 for a malformed id, 415/400/422
//!   for bad input) or exactly one `RoundTrip` — one user-scoped statement, so "at most
//!   one round trip per request" holds by type, as "no unscoped query" does through
//!   `UserScope`;
//! - `finish` turns the database's answer for that trip into the reply (status,
//!   `Location`, `Link`, 404 for a row that is not the caller's).
//!
//! Neither does I/O, so every rule here is tested natively; `crate::adapter` runs the
//! trip in between. `finish` takes the raw `QueryResult`, so a reply body could later
//! come straight from the database without changing the flow.

use super::input::{self, body_object, parse_task_id};
use super::listing::{self, ListQuery};
use super::{sql, TaskOp};
use crate::auth::UserScope;
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
}

/// Exactly one statement for the database, and what to do with its answer.
#[derive(Debug)]
pub struct RoundTrip<'a> {
    pub statement: Statement,
    pub access: Access,
    pub then: Then<'a>,
}

/// How `finish` reads the statement's rows.
#[derive(Debug, PartialEq)]
pub enum Then<'a> {
    /// The affected or selected task: 200, or 404 when there is none for this user.
    One,
    /// The inserted task: 201 with `Location`.
    Created,
    /// A deleted id: 204, or 404.
    Deleted,
    /// A page (one row more than asked, to know whether a next page exists).
    Page { query: ListQuery, path: &'a str },
}

pub fn plan<'a>(user: &UserScope, req: &TaskRequest<'a>) -> Result<RoundTrip<'a>, ApiError> {
    // The frontend's `/api/{user_id}/tasks…` form: the path may only name the caller.
    if req.path_user.is_some_and(|u| u != user.user_id()) {
        return Err(ApiError::Forbidden);
    }
    let body = || body_object(req.op.body(), req.content_type, req.body);
    let trip = |statement, access, then| RoundTrip {
        statement,
        access,
        then,
    };
    match req.op {
        TaskOp::List => {
            let query = listing::list_query(req.query)?;
            let statement = sql::list(user, &query);
            let then = Then::Page {
                query,
                path: req.path,
            };
            Ok(trip(statement, Access::Read, then))
        }
        TaskOp::Create => {
            let task = input::new_task(required(body()?)?)?;
            Ok(trip(sql::insert(user, &task), Access::Write, Then::Created))
        }
        TaskOp::Get => Ok(trip(sql::get(user, task_id(req)?), Access::Read, Then::One)),
        TaskOp::Replace => {
            let id = task_id(req)?;
            let task = input::replacement(required(body()?)?)?;
            Ok(trip(
                sql::replace(user, id, &task),
                Access::Write,
                Then::One,
            ))
        }
        TaskOp::Patch => {
            let id = task_id(req)?;
            let patch = input::patch(required(body()?)?)?;
            Ok(trip(sql::patch(user, id, &patch), Access::Write, Then::One))
        }
        TaskOp::Complete => {
            let id = task_id(req)?;
            let statement = match body()? {
                None => sql::toggle(user, id),
                Some(map) => sql::set_completed(user, id, input::completion(map)?),
            };
            Ok(trip(statement, Access::Write, Then::One))
        }
        TaskOp::Delete => Ok(trip(
            sql::delete(user, task_id(req)?),
            Access::Write,
            Then::Deleted,
        )),
    }
}

/// A malformed id names no task: 404, like an unknown one, without a round trip.
fn task_id(req: &TaskRequest) -> Result<i64, ApiError> {
    req.task_id
        .and_then(parse_task_id)
        .ok_or(ApiError::NotFound)
}

/// Operations whose body is required always get `Some` from `body_object`.
fn required<T>(body: Option<T>) -> Result<T, ApiError> {
    body.ok_or_else(|| ApiError::Internal("a required body was not read".into()))
}

pub fn finish(then: Then, outcome: Result<QueryResult, DbError>) -> Result<Reply, ApiError> {
    let result = outcome.map_err(db_error)?;
    if then == Then::Deleted {
        return match result.rows.is_empty() {
            true => Err(ApiError::NotFound),
            false => Ok(Reply::empty(204)),
        };
    }
    let mut tasks = sql::tasks_from(result)?;
    match then {
        Then::One => match tasks.first() {
            Some(task) => Ok(Reply::json(200, task)),
            None => Err(ApiError::NotFound),
        },
        Then::Created => {
            let task = tasks
                .first()
                .ok_or_else(|| ApiError::Internal("INSERT returned no row".into()))?;
            Ok(Reply::json(201, task).with_header("location", format!("/api/tasks/{}", task.id)))
        }
        Then::Page { query, path } => {
            let more = tasks.len() > query.limit as usize;
            tasks.truncate(query.limit as usize);
            let mut reply = Reply::json(200, &tasks);
            if let (true, Some(last)) = (more, tasks.last()) {
                let cursor = listing::encode_cursor(&query, last);
                reply = reply.with_header("link", listing::next_link(path, &query, &cursor));
            }
            Ok(reply)
        }
        Then::Deleted => Ok(Reply::empty(204)),
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
        }
    }

    fn alice() -> UserScope {
        UserScope::for_tests("alice")
    }

    /// A Neon reply holding task rows `(id, title, completed)` of alice.
    fn rows(tasks: &[(i64, &str, bool)]) -> QueryResult {
        let rows: Vec<String> = tasks
            .iter()
            .map(|(id, title, done)| {
                format!(
                    r#"["{id}","alice","{title}",null,"{}","2026-11-26 11:08:51.5+00","2026-11-26 12:00:00+00"]"#,
                    if *done { "t" } else { "f" }
                )
            })
            .collect();
        let body = format!(
            r#"{{"fields":[{{"name":"id","dataTypeID":20}},{{"name":"user_id","dataTypeID":25}},
            {{"name":"title","dataTypeID":25}},{{"name":"description","dataTypeID":25}},
            {{"name":"completed","dataTypeID":16}},{{"name":"created_at","dataTypeID":1184}},
            {{"name":"updated_at","dataTypeID":1184}}],"rows":[{}]}}"#,
            rows.join(",")
        );
        parse_single(body.as_bytes()).unwrap()
    }

    fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
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
        assert_eq!(trip.then, Then::Created);
    }

    #[test]
    fn a_create_answers_201_with_location() {
        let reply = finish(Then::Created, Ok(rows(&[(42, "Milk", false)]))).unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(header(&reply, "location"), Some("/api/tasks/42"));
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["id"], 42);
        assert_eq!(body["created_at"], "2026-11-26T11:08:51.500000Z");
    }

    #[test]
    fn no_row_for_this_user_is_not_found() {
        assert_eq!(
            finish(Then::One, Ok(rows(&[]))).unwrap_err(),
            ApiError::NotFound
        );
        assert_eq!(
            finish(Then::Deleted, Ok(rows(&[]))).unwrap_err(),
            ApiError::NotFound
        );
        assert_eq!(
            finish(Then::Deleted, Ok(rows(&[(7, "x", true)])))
                .unwrap()
                .status,
            204
        );
    }

    #[test]
    fn a_page_links_to_the_next_only_when_more_rows_exist() {
        let query = listing::list_query(Some("limit=2")).unwrap();
        let page = |n: i64| {
            let tasks: Vec<(i64, &str, bool)> = (1..=n).map(|i| (i, "t", false)).collect();
            finish(
                Then::Page {
                    query: query.clone(),
                    path: "/api/u/tasks",
                },
                Ok(rows(&tasks)),
            )
            .unwrap()
        };
        let full = page(3);
        let items: Vec<serde_json::Value> = serde_json::from_slice(&full.body).unwrap();
        assert_eq!(items.len(), 2, "the extra row is not shown");
        let link = header(&full, "link").unwrap();
        assert!(link.starts_with("</api/u/tasks?sort=created_at&order=desc&limit=2&cursor="));
        assert!(link.ends_with(">; rel=\"next\""));
        assert_eq!(header(&page(2), "link"), None);
        assert_eq!(header(&page(0), "link"), None);
    }

    #[test]
    fn database_errors_become_problems() {
        let check = DbError::Sql {
            code: "23514".into(),
            constraint: Some("tasks_title_length".into()),
            message: "new row violates check constraint".into(),
        };
        assert_eq!(
            finish(Then::One, Err(check)).unwrap_err(),
            ApiError::Validation(vec![FieldError::new(
                "title",
                "violates a database constraint"
            )])
        );
        let down = finish(Then::One, Err(DbError::Unavailable("down".into()))).unwrap_err();
        assert_eq!(down.status(), 503);
    }
}
