//! Input rules of the task API (SPEC §4), as pure functions: request bodies, task ids,
//! list query parameters and the opaque list cursor.
//!
//! Validation collects every violated rule before answering, so a client fixing a
//! form sees all its mistakes in one 422.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::db::tasks::{After, ListQuery, NewTask, SortColumn, SortOrder, Task, TaskPatch};
use crate::error::{ApiError, FieldError};

pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_SEARCH_CHARS: usize = 200;
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// Postgres text cannot hold U+0000; refusing it here names the field and saves the
/// round trip that would end in a database error.
const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// Fields a client may send. Server-owned ones are named so the error can say why.
const WRITABLE: [&str; 3] = ["title", "description", "completed"];
const SERVER_OWNED: [&str; 4] = ["id", "user_id", "created_at", "updated_at"];

/// Task ids are positive 64-bit integers written canonically. Anything else cannot
/// name a task, so it is answered like any unknown id (404) without a database call.
pub fn parse_task_id(raw: &str) -> Option<i64> {
    let canonical = !raw.is_empty()
        && raw.len() <= 19
        && raw.bytes().all(|b| b.is_ascii_digit())
        && !raw.starts_with('0');
    canonical.then(|| raw.parse::<i64>().ok()).flatten()
}

/// `Content-Type` must be JSON (parameters such as `charset=utf-8` are allowed).
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses a body that passed the media-type and size checks.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Json>, ApiError> {
    let value: Json = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "The body is not valid JSON ({}).",
            json_problem(&e)
        ))
    })?;
    match value {
        Json::Object(map) => Ok(map),
        _ => Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )])),
    }
}

/// What went wrong, in words that quote nothing from the body.
fn json_problem(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "unexpected end of input",
    }
}

struct Fields {
    map: Map<String, Json>,
    errors: Vec<FieldError>,
}

impl Fields {
    fn new(map: Map<String, Json>, allowed: &[&str]) -> Self {
        let mut errors = Vec::new();
        for key in map.keys() {
            if SERVER_OWNED.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key,
                    "is set by the server and cannot be written",
                ));
            } else if !allowed.contains(&key.as_str()) {
                errors.push(FieldError::new(key, "is not a field of a task"));
            }
        }
        Self { map, errors }
    }

    fn title(&mut self, required: bool) -> Option<String> {
        match self.map.get("title") {
            None if required => self.fail("title", "is required"),
            None => None,
            Some(Json::String(s)) => {
                let trimmed = s.trim();
                if trimmed.contains('\0') {
                    self.fail("title", NUL_MESSAGE)
                } else if trimmed.is_empty() {
                    self.fail("title", "must not be empty")
                } else if trimmed.chars().count() > MAX_TITLE_CHARS {
                    self.fail(
                        "title",
                        &format!("must be at most {MAX_TITLE_CHARS} characters"),
                    )
                } else {
                    Some(trimmed.to_string())
                }
            }
            Some(_) => self.fail("title", "must be a string"),
        }
    }

    /// `None`: absent. `Some(None)`: explicitly null.
    fn description(&mut self, required: bool) -> Option<Option<String>> {
        match self.map.get("description") {
            None if required => self.fail("description", "is required (use null for none)"),
            None => None,
            Some(Json::Null) => Some(None),
            Some(Json::String(s)) if s.contains('\0') => self.fail("description", NUL_MESSAGE),
            Some(Json::String(s)) if s.chars().count() > MAX_DESCRIPTION_CHARS => self.fail(
                "description",
                &format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ),
            Some(Json::String(s)) => Some(Some(s.clone())),
            Some(_) => self.fail("description", "must be a string or null"),
        }
    }

    fn completed(&mut self, required: bool) -> Option<bool> {
        match self.map.get("completed") {
            None if required => self.fail("completed", "is required"),
            None => None,
            Some(Json::Bool(b)) => Some(*b),
            Some(_) => self.fail("completed", "must be a boolean"),
        }
    }

    fn fail<T>(&mut self, field: &str, message: &str) -> Option<T> {
        self.errors.push(FieldError::new(field, message));
        None
    }

    fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// `POST`: `title` required; `description` defaults to null, `completed` to false.
pub fn new_task(map: Map<String, Json>) -> Result<NewTask, ApiError> {
    let mut f = Fields::new(map, &WRITABLE);
    let title = f.title(true);
    let description = f.description(false);
    let completed = f.completed(false);
    f.finish(()).map(|()| NewTask {
        title: title.unwrap_or_default(),
        description: description.flatten(),
        completed: completed.unwrap_or(false),
    })
}

/// `PUT`: a full replacement, so every field must be given (`description` may be null).
pub fn replacement(map: Map<String, Json>) -> Result<NewTask, ApiError> {
    let mut f = Fields::new(map, &WRITABLE);
    let title = f.title(true);
    let description = f.description(true);
    let completed = f.completed(true);
    f.finish(()).map(|()| NewTask {
        title: title.unwrap_or_default(),
        description: description.flatten(),
        completed: completed.unwrap_or(false),
    })
}

/// `PATCH`: any non-empty subset of the fields.
pub fn patch(map: Map<String, Json>) -> Result<TaskPatch, ApiError> {
    let empty = map.is_empty();
    let mut f = Fields::new(map, &WRITABLE);
    let patch = TaskPatch {
        title: f.title(false),
        description: f.description(false),
        completed: f.completed(false),
    };
    if empty {
        f.fail::<()>(
            "body",
            "must contain at least one of title, description, completed",
        );
    }
    f.finish(patch)
}

/// `PATCH …/complete` with a body: `{"completed": bool}` sets instead of toggling.
pub fn completion(map: Map<String, Json>) -> Result<bool, ApiError> {
    let mut f = Fields::new(map, &["completed"]);
    let completed = f.completed(true);
    f.finish(()).map(|()| completed.unwrap_or(false))
}

/// The list cursor: the position after the last row of a page, bound to the sort it
/// was made for. Opaque to clients (base64url JSON), but not secret: it can only move
/// within the caller's own rows, since the query is scoped by user anyway.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cursor {
    s: String,
    o: String,
    v: String,
    i: i64,
}

fn sort_name(sort: SortColumn) -> &'static str {
    match sort {
        SortColumn::CreatedAt => "created_at",
        SortColumn::UpdatedAt => "updated_at",
        SortColumn::Title => "title",
    }
}

fn order_name(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    }
}

pub fn encode_cursor(query: &ListQuery, last: &Task) -> String {
    let value = match query.sort {
        SortColumn::CreatedAt => &last.created_at,
        SortColumn::UpdatedAt => &last.updated_at,
        SortColumn::Title => &last.title,
    };
    let cursor = Cursor {
        s: sort_name(query.sort).into(),
        o: order_name(query.order).into(),
        v: value.clone(),
        i: last.id,
    };
    Base64UrlUnpadded::encode_string(&serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode_cursor(raw: &str, sort: SortColumn, order: SortOrder) -> Result<After, &'static str> {
    let bytes = Base64UrlUnpadded::decode_vec(raw).map_err(|_| "is not a valid cursor")?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| "is not a valid cursor")?;
    if cursor.s != sort_name(sort) || cursor.o != order_name(order) {
        return Err("belongs to another sort or order; start again without a cursor");
    }
    // A timestamp cursor must hold a timestamp: a bad one would otherwise reach
    // Postgres as a failing cast (a 500) instead of a 422 here.
    let is_time = matches!(sort, SortColumn::CreatedAt | SortColumn::UpdatedAt);
    if cursor.i < 1
        || (is_time
            && crate::db::protocol::timestamptz_to_rfc3339(&rfc3339_to_pg(&cursor.v)).is_none())
    {
        return Err("is not a valid cursor");
    }
    Ok(After {
        value: cursor.v,
        id: cursor.i,
    })
}

/// `2026-11-26T11:08:51.123456Z` → `2026-11-26 11:08:51.123456+00`, to reuse the one
/// timestamp validator.
fn rfc3339_to_pg(value: &str) -> String {
    match value.strip_suffix('Z') {
        Some(v) if v.len() > 10 && v.as_bytes()[10] == b'T' => {
            format!("{} {}+00", &v[..10], &v[11..])
        }
        _ => String::new(),
    }
}

/// Parses `status`, `sort`, `order`, `q`, `limit`, `cursor`. Other parameters are
/// ignored (clients add cache-busters); a repeated one is an error, since which copy
/// wins would be a guess.
pub fn list_query(query_string: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut errors = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut get = |name: &str| -> Option<String> {
        let mut values = url::form_urlencoded::parse(query_string.unwrap_or("").as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        let first = values.next();
        if values.next().is_some() {
            seen.push(name.to_string());
        }
        first
    };
    let status = get("status");
    let sort = get("sort");
    let order = get("order");
    let q = get("q");
    let limit = get("limit");
    let cursor = get("cursor");
    for name in seen {
        errors.push(FieldError::new(name, "must be given at most once"));
    }

    let completed = match status.as_deref() {
        None | Some("all") => None,
        Some("pending") => Some(false),
        Some("completed") => Some(true),
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                "must be one of all, pending, completed",
            ));
            None
        }
    };
    let sort = match sort.as_deref() {
        None | Some("created_at") => SortColumn::CreatedAt,
        Some("updated_at") => SortColumn::UpdatedAt,
        Some("title") => SortColumn::Title,
        Some(_) => {
            errors.push(FieldError::new(
                "sort",
                "must be one of created_at, updated_at, title",
            ));
            SortColumn::CreatedAt
        }
    };
    let order = match order.as_deref() {
        None | Some("desc") => SortOrder::Desc,
        Some("asc") => SortOrder::Asc,
        Some(_) => {
            errors.push(FieldError::new("order", "must be asc or desc"));
            SortOrder::Desc
        }
    };
    let search = match q {
        Some(q) if q.contains('\0') => {
            errors.push(FieldError::new("q", NUL_MESSAGE));
            None
        }
        Some(q) if q.chars().count() > MAX_SEARCH_CHARS => {
            errors.push(FieldError::new(
                "q",
                format!("must be at most {MAX_SEARCH_CHARS} characters"),
            ));
            None
        }
        Some(q) if q.is_empty() => None,
        other => other,
    };
    let limit = match limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) && !raw.starts_with('+') => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                ));
                DEFAULT_LIMIT
            }
        },
    };
    let after = match cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => match decode_cursor(raw, sort, order) {
            Ok(after) => Some(after),
            Err(message) => {
                errors.push(FieldError::new("cursor", message));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(ListQuery {
        completed,
        search,
        sort,
        order,
        after,
        limit,
    })
}

/// The `Link` header value for the next page: the same path and parameters, with the
/// new cursor.
pub fn next_link(path: &str, query: &ListQuery, cursor: &str) -> String {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    if let Some(completed) = query.completed {
        params.append_pair("status", if completed { "completed" } else { "pending" });
    }
    params.append_pair("sort", sort_name(query.sort));
    params.append_pair("order", order_name(query.order));
    if let Some(q) = &query.search {
        params.append_pair("q", q);
    }
    params.append_pair("limit", &query.limit.to_string());
    params.append_pair("cursor", cursor);
    format!("<{path}?{}>; rel=\"next\"", params.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn task_ids() {
        assert_eq!(parse_task_id("1"), Some(1));
        assert_eq!(parse_task_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "0",
            "-1",
            "01",
            "+1",
            "1.0",
            "9223372036854775808",
            "99999999999999999999",
            "1 OR 1=1",
            "abc",
            "١",
        ] {
            assert_eq!(parse_task_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn media_type() {
        assert!(is_json_media_type(Some("application/json")));
        assert!(is_json_media_type(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json_media_type(Some("text/plain")));
        assert!(!is_json_media_type(Some("application/jsonx")));
        assert!(!is_json_media_type(None));
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(matches!(parse_object(b"{"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_object(b""), Err(ApiError::BadRequest(_))));
        assert_eq!(fields(parse_object(b"[1]").unwrap_err()), vec!["body"]);
        assert!(parse_object(b" {\"title\":\"x\"} ").is_ok());
    }

    #[test]
    fn create_rules() {
        let t = new_task(obj(json!({"title": "  Buy milk  "}))).unwrap();
        assert_eq!(
            t,
            NewTask {
                title: "Buy milk".into(),
                description: None,
                completed: false
            }
        );
        let all = new_task(obj(json!({"title": 5, "description": [], "completed": "yes", "id": 1, "user_id": "x", "colour": "red"})))
            .unwrap_err();
        let mut got = fields(all);
        got.sort();
        assert_eq!(
            got,
            vec![
                "colour",
                "completed",
                "description",
                "id",
                "title",
                "user_id"
            ]
        );
        assert_eq!(fields(new_task(obj(json!({}))).unwrap_err()), vec!["title"]);
        assert_eq!(
            fields(new_task(obj(json!({"title": " \t\n "}))).unwrap_err()),
            vec!["title"]
        );
    }

    #[test]
    fn nul_characters_are_refused_by_name() {
        assert_eq!(
            fields(new_task(obj(json!({"title": "a\u{0}b"}))).unwrap_err()),
            vec!["title"]
        );
        assert_eq!(
            fields(new_task(obj(json!({"title": "t", "description": "\u{0}"}))).unwrap_err()),
            vec!["description"]
        );
        assert_eq!(fields(list_query(Some("q=a%00")).unwrap_err()), vec!["q"]);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let emoji = "🌍".repeat(MAX_TITLE_CHARS);
        assert!(new_task(obj(json!({ "title": emoji }))).is_ok());
        let too_long = "a".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(
            fields(new_task(obj(json!({ "title": too_long }))).unwrap_err()),
            vec!["title"]
        );
        let desc = "é".repeat(MAX_DESCRIPTION_CHARS);
        assert!(new_task(obj(json!({"title": "t", "description": desc}))).is_ok());
        let desc = "é".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            fields(new_task(obj(json!({"title": "t", "description": desc}))).unwrap_err()),
            vec!["description"]
        );
    }

    #[test]
    fn replace_needs_every_field() {
        assert!(replacement(obj(
            json!({"title": "t", "description": null, "completed": true})
        ))
        .is_ok());
        let mut got = fields(replacement(obj(json!({"title": "t"}))).unwrap_err());
        got.sort();
        assert_eq!(got, vec!["completed", "description"]);
    }

    #[test]
    fn patch_rules() {
        let p = patch(obj(json!({"description": null}))).unwrap();
        assert_eq!(p.description, Some(None));
        assert_eq!(p.title, None);
        assert_eq!(fields(patch(obj(json!({}))).unwrap_err()), vec!["body"]);
        assert_eq!(
            fields(patch(obj(json!({"created_at": "2020-01-01T00:00:00Z"}))).unwrap_err()),
            vec!["created_at"]
        );
    }

    #[test]
    fn completion_body() {
        assert_eq!(completion(obj(json!({"completed": true}))), Ok(true));
        assert_eq!(
            fields(completion(obj(json!({"completed": 1}))).unwrap_err()),
            vec!["completed"]
        );
        assert_eq!(
            fields(completion(obj(json!({"title": "x", "completed": true}))).unwrap_err()),
            vec!["title"]
        );
    }

    #[test]
    fn list_defaults_and_values() {
        let q = list_query(None).unwrap();
        assert_eq!(
            (q.sort, q.order, q.limit, q.completed),
            (SortColumn::CreatedAt, SortOrder::Desc, 50, None)
        );
        let q = list_query(Some(
            "status=pending&sort=title&order=asc&q=m%C3%BClk&limit=100&utm=x",
        ))
        .unwrap();
        assert_eq!(q.completed, Some(false));
        assert_eq!(q.search.as_deref(), Some("mülk"));
        assert_eq!(
            (q.sort, q.order, q.limit),
            (SortColumn::Title, SortOrder::Asc, 100)
        );
    }

    #[test]
    fn list_refuses_bad_values() {
        for (qs, field) in [
            ("status=done", "status"),
            ("sort=id", "sort"),
            ("sort=title;drop table tasks", "sort"),
            ("order=up", "order"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("limit=+5", "limit"),
            ("cursor=%%%", "cursor"),
            ("cursor=e30", "cursor"),
            ("limit=5&limit=6", "limit"),
        ] {
            assert_eq!(
                fields(list_query(Some(qs)).unwrap_err()),
                vec![field],
                "{qs}"
            );
        }
        let long = "q=".to_string() + &"x".repeat(MAX_SEARCH_CHARS + 1);
        assert_eq!(fields(list_query(Some(&long)).unwrap_err()), vec!["q"]);
    }

    fn task(id: i64, title: &str) -> Task {
        Task {
            id,
            user_id: "u".into(),
            title: title.into(),
            description: None,
            completed: false,
            created_at: "2026-11-26T11:08:51.123456Z".into(),
            updated_at: "2026-11-26T12:00:00.000000Z".into(),
        }
    }

    #[test]
    fn cursors_round_trip_and_stay_bound_to_their_sort() {
        let q = list_query(Some("sort=title&order=asc")).unwrap();
        let c = encode_cursor(&q, &task(7, "b&c"));
        let next = list_query(Some(&format!("sort=title&order=asc&cursor={c}"))).unwrap();
        assert_eq!(
            next.after,
            Some(After {
                value: "b&c".into(),
                id: 7
            })
        );
        assert_eq!(
            fields(list_query(Some(&format!("sort=title&order=desc&cursor={c}"))).unwrap_err()),
            vec!["cursor"]
        );

        let q = list_query(None).unwrap();
        let c = encode_cursor(&q, &task(9, "x"));
        let next = list_query(Some(&format!("cursor={c}"))).unwrap();
        assert_eq!(next.after.unwrap().value, "2026-11-26T11:08:51.123456Z");

        let forged = Base64UrlUnpadded::encode_string(
            br#"{"s":"created_at","o":"desc","v":"not a time","i":1}"#,
        );
        assert_eq!(
            fields(list_query(Some(&format!("cursor={forged}"))).unwrap_err()),
            vec!["cursor"]
        );
    }

    #[test]
    fn next_link_keeps_the_query() {
        let q = list_query(Some("status=completed&q=a b&limit=2&sort=updated_at")).unwrap();
        let link = next_link("/api/u1/tasks", &q, "CUR");
        assert_eq!(
            link,
            "</api/u1/tasks?status=completed&sort=updated_at&order=desc&q=a+b&limit=2&cursor=CUR>; rel=\"next\""
        );
    }
}
