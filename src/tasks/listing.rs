//! Listing: the list query string, the keyset cursor and the `Link` to the next page.
//!
//! Pages are keyset-based: the cursor holds the sort value and id of the last row
//! shown, and the next page starts strictly after it, so rows inserted meanwhile
//! neither repeat nor shift a page.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use super::input::NUL_MESSAGE;
use super::Task;
use crate::error::{ApiError, FieldError};
use crate::timestamp::Timestamp;

pub const MAX_SEARCH_CHARS: usize = 200;
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    CreatedAt,
    UpdatedAt,
    Title,
}

impl SortColumn {
    const ALL: [SortColumn; 3] = [Self::CreatedAt, Self::UpdatedAt, Self::Title];

    /// The query-string value, which is also the column name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Title => "title",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    fn value_of(self, task: &Task) -> &str {
        match self {
            Self::CreatedAt => task.created_at.as_str(),
            Self::UpdatedAt => task.updated_at.as_str(),
            Self::Title => &task.title,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Asc, Self::Desc]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// A keyset position: the sort value and id of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub value: String,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// `Some(true)`: only completed tasks; `Some(false)`: only pending ones.
    pub completed: Option<bool>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    pub sort: SortColumn,
    pub order: SortOrder,
    pub after: Option<After>,
    pub limit: u32,
}

/// The cursor's content. Opaque to clients (base64url JSON, short keys to keep URLs
/// short), but not secret: it can only move within the caller's own rows, since every
/// list statement is scoped by user anyway. It is bound to the sort it was made for.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "o")]
    order: String,
    #[serde(rename = "v")]
    value: String,
    #[serde(rename = "i")]
    id: i64,
}

pub fn encode_cursor(query: &ListQuery, last: &Task) -> String {
    let cursor = Cursor {
        sort: query.sort.as_str().into(),
        order: query.order.as_str().into(),
        value: query.sort.value_of(last).to_string(),
        id: last.id,
    };
    Base64UrlUnpadded::encode_string(&serde_json::to_vec(&cursor).unwrap_or_default())
}

const INVALID_CURSOR: &str = "is not a valid cursor";

/// Accepts exactly what `encode_cursor` makes: a timestamp cursor must hold a
/// canonical timestamp and ids are positive, so a forged value is a 422 here instead
/// of a failing cast in Postgres.
fn decode_cursor(raw: &str, sort: SortColumn, order: SortOrder) -> Result<After, &'static str> {
    let bytes = Base64UrlUnpadded::decode_vec(raw).map_err(|_| INVALID_CURSOR)?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| INVALID_CURSOR)?;
    if cursor.sort != sort.as_str() || cursor.order != order.as_str() {
        return Err("belongs to another sort or order; start again without a cursor");
    }
    let value_ok = match sort {
        SortColumn::CreatedAt | SortColumn::UpdatedAt => {
            Timestamp::parse_canonical(&cursor.value).is_some()
        }
        SortColumn::Title => !cursor.value.contains('\0'),
    };
    if cursor.id < 1 || !value_ok {
        return Err(INVALID_CURSOR);
    }
    Ok(After {
        value: cursor.value,
        id: cursor.id,
    })
}

/// Parses `status`, `sort`, `order`, `q`, `limit`, `cursor`. Other parameters are
/// ignored (clients add cache-busters); a repeated one is an error, since which copy
/// wins would be a guess. Every invalid value is reported, not just the first.
pub fn list_query(query_string: Option<&str>) -> Result<ListQuery, ApiError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query_string.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let mut errors = Vec::new();
    let mut get = |name: &'static str| -> Option<&str> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            errors.push(FieldError::new(name, "must be given at most once"));
        }
        first.map(String::as_str)
    };
    let (status, sort, order) = (get("status"), get("sort"), get("order"));
    let (q, limit, cursor) = (get("q"), get("limit"), get("cursor"));

    let mut invalid = |field: &str, message: String| errors.push(FieldError::new(field, message));
    let completed = match status {
        None | Some("all") => None,
        Some("pending") => Some(false),
        Some("completed") => Some(true),
        Some(_) => {
            invalid("status", "must be one of all, pending, completed".into());
            None
        }
    };
    let sort = sort.map_or(Some(SortColumn::CreatedAt), SortColumn::parse);
    if sort.is_none() {
        invalid(
            "sort",
            "must be one of created_at, updated_at, title".into(),
        );
    }
    let order = order.map_or(Some(SortOrder::Desc), SortOrder::parse);
    if order.is_none() {
        invalid("order", "must be asc or desc".into());
    }
    let search = match q {
        Some(q) if q.contains('\0') => {
            invalid("q", NUL_MESSAGE.into());
            None
        }
        Some(q) if q.chars().count() > MAX_SEARCH_CHARS => {
            invalid(
                "q",
                format!("must be at most {MAX_SEARCH_CHARS} characters"),
            );
            None
        }
        Some("") | None => None,
        Some(q) => Some(q.to_string()),
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) && !raw.starts_with('+') => n,
            _ => {
                invalid("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
                DEFAULT_LIMIT
            }
        },
    };
    let (sort, order) = (
        sort.unwrap_or(SortColumn::CreatedAt),
        order.unwrap_or(SortOrder::Desc),
    );
    let after = match cursor {
        None | Some("") => None,
        Some(raw) => decode_cursor(raw, sort, order)
            .map_err(|message| invalid("cursor", message.into()))
            .ok(),
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
    params.append_pair("sort", query.sort.as_str());
    params.append_pair("order", query.order.as_str());
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

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
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
            ("q=a%00", "q"),
        ] {
            assert_eq!(
                fields(list_query(Some(qs)).unwrap_err()),
                vec![field],
                "{qs}"
            );
        }
        let long = "q=".to_string() + &"x".repeat(MAX_SEARCH_CHARS + 1);
        assert_eq!(fields(list_query(Some(&long)).unwrap_err()), vec!["q"]);
        let mut all = fields(list_query(Some("status=x&order=y&limit=0")).unwrap_err());
        all.sort();
        assert_eq!(all, vec!["limit", "order", "status"]);
    }

    fn task(id: i64, title: &str) -> Task {
        Task {
            id,
            user_id: "u".into(),
            title: title.into(),
            description: None,
            completed: false,
            version: 1,
            created_at: Timestamp::parse_canonical("2026-11-26T11:08:51.123456Z").unwrap(),
            updated_at: Timestamp::parse_canonical("2026-11-26T12:00:00.000000Z").unwrap(),
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
    }

    /// Cursors a client forged: each is a 422 naming `cursor`, never a panic or a
    /// value that reaches SQL. The second once overflowed the offset arithmetic.
    #[test]
    fn forged_cursors_are_refused() {
        for json in [
            r#"{"s":"created_at","o":"desc","v":"not a time","i":1}"#,
            r#"{"s":"created_at","o":"desc","v":"2026-01-01T00:00:00+3000000000000000:Z","i":1}"#,
            r#"{"s":"created_at","o":"desc","v":"999999-1-1T23:59:60Z","i":1}"#,
            r#"{"s":"created_at","o":"desc","v":"2026-01-01T00:00:00+5:Z","i":1}"#,
            r#"{"s":"created_at","o":"desc","v":"2026-11-26T11:08:51.123456Z","i":0}"#,
            r#"{"s":"created_at","o":"desc","v":"2026-11-26T11:08:51.123456Z","i":1,"x":2}"#,
            r#"{"s":"created_at","o":"desc","v":"2026-11-26T11:08:51.123456Z"}"#,
            r#"{"s":"title","o":"desc","v":"a\u0000b","i":1}"#,
            r#"[]"#,
        ] {
            let forged = Base64UrlUnpadded::encode_string(json.as_bytes());
            let sort = if json.contains("title") {
                "&sort=title"
            } else {
                ""
            };
            assert_eq!(
                fields(list_query(Some(&format!("cursor={forged}{sort}"))).unwrap_err()),
                vec!["cursor"],
                "{json}"
            );
        }
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
