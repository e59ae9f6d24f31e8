//! The one error type of the worker, and the only place that knows HTTP status codes.
//!
//! Handlers return `Result<Reply, ApiError>` and use `?`; this module turns the error
//! into an RFC 9457 `application/problem+json` body. Variants that stand for a fault of
//! ours (`Internal`, `Misconfigured`, `Unavailable`) carry a reason for the request log
//! only: the body says what the client can act on and never shows internals (no SQL, no
//! connection string, no token).

use serde_json::{json, Value};

use crate::db::DbError;

/// One violated input rule, reported in the `errors` array of a 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request could not be read (malformed JSON, bad syntax).
    BadRequest(String),
    /// 401: no usable credentials. `description` is `Some` when a token was presented
    /// and refused; RFC 6750 §3 then asks for `error="invalid_token"`. The description is
    /// a fixed, short phrase chosen by the verifier, never derived from the token.
    Unauthorized { description: Option<&'static str> },
    /// 403: authenticated, but the path names another user.
    Forbidden,
    /// 404: no such route or no such task *for this user*. Another user's task is
    /// answered exactly like a missing one so ids leak nothing.
    NotFound,
    /// 405 with the methods the path does serve (`Allow`, comma-separated).
    MethodNotAllowed { allow: String },
    /// 413: body above the size limit.
    PayloadTooLarge { limit: usize },
    /// 412: `If-Match` named no current version of the task; nothing was written.
    /// Carries the task's current `ETag`.
    PreconditionFailed { etag: String },
    /// 409: a create that would take the user past `TASKS_PER_USER_MAX` tasks.
    QuotaExceeded { limit: u32 },
    /// 415: body without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 422: well-formed input that breaks the rules; one entry per field.
    Validation(Vec<FieldError>),
    /// 429: the user's writes are over the rate limit; retry after the period.
    TooManyRequests { retry_after: u32 },
    /// 500: configuration missing or invalid. The variable name goes to the log only.
    Misconfigured {
        variable: &'static str,
        reason: String,
    },
    /// 503: a dependency (database, JWKS) cannot be reached; the client may retry.
    Unavailable { retry_after: u32, reason: String },
    /// 500: a bug or an unexpected state. The reason goes to the log only.
    Internal(String),
}

/// Status, title and `type` slug of each kind of problem: the one table of them.
struct Kind {
    status: u16,
    title: &'static str,
    slug: &'static str,
}

const fn kind(status: u16, title: &'static str, slug: &'static str) -> Kind {
    Kind {
        status,
        title,
        slug,
    }
}

impl ApiError {
    fn kind(&self) -> Kind {
        match self {
            ApiError::BadRequest(_) => kind(400, "Bad Request", "bad-request"),
            ApiError::Unauthorized { .. } => kind(401, "Unauthorized", "unauthorized"),
            ApiError::Forbidden => kind(403, "Forbidden", "forbidden"),
            ApiError::NotFound => kind(404, "Not Found", "not-found"),
            ApiError::MethodNotAllowed { .. } => {
                kind(405, "Method Not Allowed", "method-not-allowed")
            }
            ApiError::QuotaExceeded { .. } => kind(409, "Conflict", "quota-exceeded"),
            ApiError::PreconditionFailed { .. } => {
                kind(412, "Precondition Failed", "precondition-failed")
            }
            ApiError::PayloadTooLarge { .. } => kind(413, "Payload Too Large", "payload-too-large"),
            ApiError::UnsupportedMediaType => {
                kind(415, "Unsupported Media Type", "unsupported-media-type")
            }
            ApiError::Validation(_) => kind(422, "Unprocessable Content", "validation"),
            ApiError::TooManyRequests { .. } => kind(429, "Too Many Requests", "rate-limited"),
            ApiError::Misconfigured { .. } => kind(500, "Internal Server Error", "misconfigured"),
            ApiError::Internal(_) => kind(500, "Internal Server Error", "internal"),
            ApiError::Unavailable { .. } => kind(503, "Service Unavailable", "unavailable"),
        }
    }

    pub fn status(&self) -> u16 {
        self.kind().status
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(detail) => detail.clone(),
            ApiError::Unauthorized { description: None } => {
                "This endpoint needs an `Authorization: Bearer <token>` header.".into()
            }
            ApiError::Unauthorized {
                description: Some(d),
            } => format!("The bearer token was refused: {d}."),
            ApiError::Forbidden => "The user in the path is not the authenticated user.".into(),
            ApiError::NotFound => "No such resource.".into(),
            ApiError::MethodNotAllowed { allow } => {
                format!("This resource supports: {allow}.")
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("The request body exceeds {limit} bytes.")
            }
            ApiError::PreconditionFailed { .. } => {
                "The task changed since your copy (If-Match); nothing was written. The ETag \
                 header holds its current version."
                    .into()
            }
            ApiError::QuotaExceeded { limit } => format!(
                "You already have {limit} tasks, the most one user may hold; delete some first."
            ),
            ApiError::TooManyRequests { retry_after } => {
                format!("Too many changes in a short time; retry after {retry_after} seconds.")
            }
            ApiError::UnsupportedMediaType => {
                "The request body must be sent with `Content-Type: application/json`.".into()
            }
            ApiError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("Invalid input: {}.", fields.join(", "))
            }
            ApiError::Misconfigured { .. } => "The server is misconfigured.".into(),
            ApiError::Unavailable { .. } => {
                "A service this API depends on is unavailable; retry later.".into()
            }
            ApiError::Internal(_) => "An unexpected error occurred.".into(),
        }
    }

    /// The RFC 9457 body. The `type` URI is a stable identifier per kind of problem.
    pub fn problem(&self) -> Value {
        let kind = self.kind();
        let mut body = json!({
            "type": format!("urn:task-api:problem:{}", kind.slug),
            "title": kind.title,
            "status": kind.status,
            "detail": self.detail(),
        });
        if let ApiError::Validation(errors) = self {
            body["errors"] = errors
                .iter()
                .map(|e| json!({ "field": e.field, "message": e.message }))
                .collect();
        }
        body
    }

    /// Headers the status itself calls for (beyond Content-Type).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized { description } => {
                let value = match description {
                    None => r#"Bearer realm="api""#.to_string(),
                    Some(d) => {
                        format!(
                            r#"Bearer realm="api", error="invalid_token", error_description="{d}""#
                        )
                    }
                };
                vec![("www-authenticate", value)]
            }
            ApiError::MethodNotAllowed { allow } => vec![("allow", allow.clone())],
            ApiError::PreconditionFailed { etag } => vec![("etag", etag.clone())],
            ApiError::Unavailable { retry_after, .. }
            | ApiError::TooManyRequests { retry_after } => {
                vec![("retry-after", retry_after.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// What the request log records as the reason of a 401 or 5xx: the internal cause,
    /// which may name a variable but never holds a secret or token.
    pub fn log_reason(&self) -> Option<String> {
        match self {
            ApiError::Unauthorized { description } => {
                Some(description.unwrap_or("missing credentials").to_string())
            }
            ApiError::Misconfigured { variable, reason } => {
                Some(format!("misconfigured {variable}: {reason}"))
            }
            ApiError::Unavailable { reason, .. } => Some(reason.clone()),
            ApiError::Internal(reason) => Some(reason.clone()),
            _ => None,
        }
    }
}

/// Seconds a client should wait after a database failure before retrying.
pub const DB_RETRY_AFTER_SECONDS: u32 = 2;

/// SQLSTATEs that only input the client sent can cause (a value too long for its
/// column, text that does not parse as its type, a number out of range, a character
/// the encoding cannot hold): a 422, since the request is at fault. Every other data
/// exception is ours.
const CLIENT_DATA_SQLSTATES: [&str; 6] = ["22001", "22003", "22007", "22008", "22021", "22P02"];

impl From<DbError> for ApiError {
    fn from(err: DbError) -> ApiError {
        match err {
            DbError::Unavailable(reason) => ApiError::Unavailable {
                retry_after: DB_RETRY_AFTER_SECONDS,
                reason,
            },
            // Never a 4xx: the client did nothing wrong.
            DbError::Setup(reason) => ApiError::Misconfigured {
                variable: "DATABASE_URL",
                reason,
            },
            DbError::Sql { code, .. } if DbError::is_transient_sql(&code) => {
                ApiError::Unavailable {
                    retry_after: DB_RETRY_AFTER_SECONDS,
                    reason: format!("database refused with SQLSTATE {code}"),
                }
            }
            DbError::Sql { code, .. } if CLIENT_DATA_SQLSTATES.contains(&code.as_str()) => {
                ApiError::Validation(vec![FieldError::new(
                    "body",
                    "contains a value the database cannot store",
                )])
            }
            // The message may quote SQL; it goes to the log only.
            DbError::Sql { code, message, .. } => {
                ApiError::Internal(format!("SQLSTATE {code}: {message}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_lists_every_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("title", "must not be empty"),
            FieldError::new("completed", "must be a boolean"),
        ]);
        let body = err.problem();
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"][0]["field"], "title");
        assert_eq!(body["errors"][1]["field"], "completed");
        assert!(body["detail"].as_str().unwrap().contains("completed"));
    }

    #[test]
    fn unauthorized_follows_rfc6750() {
        let bare = ApiError::Unauthorized { description: None };
        assert_eq!(bare.headers()[0].1, r#"Bearer realm="api""#);
        let refused = ApiError::Unauthorized {
            description: Some("token expired"),
        };
        assert_eq!(
            refused.headers()[0].1,
            r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
        );
    }

    #[test]
    fn internal_errors_hide_their_reason() {
        let secret_reason = "postgres://user:hunter2@db/x refused";
        for err in [
            ApiError::Internal(secret_reason.into()),
            ApiError::Unavailable {
                retry_after: 1,
                reason: secret_reason.into(),
            },
            ApiError::Misconfigured {
                variable: "DATABASE_URL",
                reason: secret_reason.into(),
            },
        ] {
            let body = err.problem().to_string();
            assert!(!body.contains("hunter2"), "{body}");
            assert!(!body.contains("DATABASE_URL"), "{body}");
        }
    }

    #[test]
    fn database_errors_map_to_what_the_client_can_do() {
        let sql = |code: &str, constraint: Option<&str>| DbError::Sql {
            code: code.into(),
            constraint: constraint.map(str::to_string),
            message: "SELECT secret FROM x".into(),
        };
        assert_eq!(
            ApiError::from(DbError::Unavailable("down".into())).status(),
            503
        );
        assert_eq!(ApiError::from(sql("40001", None)).status(), 503);
        let setup = ApiError::from(DbError::Setup("run `npm run migrate`".into()));
        assert_eq!(setup.status(), 500);
        assert!(setup.log_reason().unwrap().contains("npm run migrate"));
        assert_eq!(setup.problem()["detail"], "The server is misconfigured.");
        assert_eq!(ApiError::from(sql("22P02", None)).status(), 422);
        assert_eq!(ApiError::from(sql("22001", None)).status(), 422);
        // Not every data exception is the client's: e.g. 22023 (invalid parameter
        // value) comes from our own statements.
        assert_eq!(ApiError::from(sql("22023", None)).status(), 500);
        let internal = ApiError::from(sql("42P01", None));
        assert_eq!(internal.status(), 500);
        assert!(!internal.problem().to_string().contains("SELECT"));
    }

    #[test]
    fn every_kind_has_its_status_title_and_type() {
        let err = ApiError::MethodNotAllowed {
            allow: "GET, POST".into(),
        };
        let body = err.problem();
        assert_eq!(body["status"], 405);
        assert_eq!(body["title"], "Method Not Allowed");
        assert_eq!(body["type"], "urn:task-api:problem:method-not-allowed");
        assert_eq!(err.headers(), vec![("allow", "GET, POST".to_string())]);
        let misconfigured = ApiError::Misconfigured {
            variable: "X",
            reason: "y".into(),
        };
        assert_eq!(
            misconfigured.problem()["type"],
            "urn:task-api:problem:misconfigured"
        );
        assert_eq!(misconfigured.status(), 500);
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let err = ApiError::Unavailable {
            retry_after: 5,
            reason: "db down".into(),
        };
        assert_eq!(err.status(), 503);
        assert_eq!(err.headers(), vec![("retry-after", "5".to_string())]);
    }
}
