//! Input rules for task bodies and ids, as pure functions.
//!
//! Validation collects every violated rule before answering, so a client fixing a
//! form sees all its mistakes in one 422.

use serde_json::{Map, Value as Json};

use super::{NewTask, TaskPatch};
use crate::error::{ApiError, FieldError};

pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Postgres text cannot hold U+0000; refusing it here names the field and saves the
/// round trip that would end in a database error.
pub(super) const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

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
    whole_task(map, false)
}

/// `PUT`: a full replacement, so every field must be given (`description` may be null).
pub fn replacement(map: Map<String, Json>) -> Result<NewTask, ApiError> {
    whole_task(map, true)
}

fn whole_task(map: Map<String, Json>, all_required: bool) -> Result<NewTask, ApiError> {
    let mut f = Fields::new(map, &WRITABLE);
    let title = f.title(true);
    let description = f.description(all_required);
    let completed = f.completed(all_required);
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

/// Whether an operation reads the request body, decided before a byte of it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRead {
    /// The operation takes no body; whatever was sent is ignored unread.
    Skip,
    /// Read it (at most `MAX_BODY_BYTES`), then hand it to the handler.
    Read,
}

/// What a body-taking operation expects: a JSON object (`POST`, `PUT`, `PATCH`), or an
/// optional one (`PATCH …/complete`, where no body means "toggle").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNeed {
    None,
    Object,
    OptionalObject,
}

/// The media type is checked before reading, so a non-JSON upload of any size is a
/// 415 without being buffered. An optional body is checked only once it turns out to
/// be non-empty (a bare toggle may send no `Content-Type`).
pub fn body_read(need: BodyNeed, content_type: Option<&str>) -> Result<BodyRead, ApiError> {
    match need {
        BodyNeed::None => Ok(BodyRead::Skip),
        BodyNeed::Object if !is_json_media_type(content_type) => {
            Err(ApiError::UnsupportedMediaType)
        }
        BodyNeed::Object | BodyNeed::OptionalObject => Ok(BodyRead::Read),
    }
}

/// The body as the operation needs it: `None` only for an empty optional body.
pub fn body_object(
    need: BodyNeed,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Option<Map<String, Json>>, ApiError> {
    match need {
        BodyNeed::None => Ok(None),
        BodyNeed::OptionalObject if bytes.is_empty() => Ok(None),
        BodyNeed::Object | BodyNeed::OptionalObject => {
            if !is_json_media_type(content_type) {
                return Err(ApiError::UnsupportedMediaType);
            }
            parse_object(bytes).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    pub(crate) fn fields(err: ApiError) -> Vec<String> {
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
    fn media_type_is_checked_before_the_body_is_read() {
        let json = Some("application/json");
        assert_eq!(body_read(BodyNeed::None, None), Ok(BodyRead::Skip));
        assert_eq!(body_read(BodyNeed::Object, json), Ok(BodyRead::Read));
        assert_eq!(
            body_read(BodyNeed::Object, Some("text/plain")),
            Err(ApiError::UnsupportedMediaType)
        );
        assert_eq!(
            body_read(BodyNeed::Object, None),
            Err(ApiError::UnsupportedMediaType)
        );
        // A toggle may come without any body or content type.
        assert_eq!(
            body_read(BodyNeed::OptionalObject, None),
            Ok(BodyRead::Read)
        );
    }

    #[test]
    fn an_optional_body_is_none_only_when_empty() {
        assert_eq!(body_object(BodyNeed::OptionalObject, None, b""), Ok(None));
        assert_eq!(
            body_object(BodyNeed::OptionalObject, None, b"{}"),
            Err(ApiError::UnsupportedMediaType)
        );
        let set = body_object(
            BodyNeed::OptionalObject,
            Some("application/json"),
            br#"{"completed":true}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(set["completed"], json!(true));
        assert!(matches!(
            body_object(BodyNeed::Object, Some("application/json"), b""),
            Err(ApiError::BadRequest(_))
        ));
    }
}
