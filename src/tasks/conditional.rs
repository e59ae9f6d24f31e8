//! Conditional requests and safe retries: entity tags (`ETag`, `If-Match`,
//! `If-None-Match`, RFC 9110 §8.8.3 and §13.1) and the `Idempotency-Key` of a create.
//!
//! A task's strong ETag is its `version` in quotes (`"3"`): the version goes up by one
//! in the same statement as every change, so the tag changes exactly when the task
//! does, and it is per task URL, so it is unique per representation.

use serde::Serialize;

use crate::error::{ApiError, FieldError};

/// The strong ETag of a task at `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// `If-Match` on a write: which versions the client allows the write to apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any existing task.
    Any,
    /// The versions of the strong tags listed. Weak tags never match (strong
    /// comparison), and a tag that is no version of ours matches nothing, so this may
    /// be empty: the write then happens for no version, and an existing task is a 412.
    Versions(Vec<i64>),
}

/// `If-None-Match` on a read: when the client's copy is still current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfNoneMatch {
    Any,
    /// Versions of the listed tags, weak or strong (weak comparison).
    Versions(Vec<i64>),
}

impl IfNoneMatch {
    /// Whether the client's copy of a task at `version` is current (→ 304).
    pub fn matches(&self, version: i64) -> bool {
        match self {
            IfNoneMatch::Any => true,
            IfNoneMatch::Versions(versions) => versions.contains(&version),
        }
    }
}

/// One entity tag of a list: weak or strong, and the version it names, if any.
struct Tag {
    weak: bool,
    version: Option<i64>,
}

/// `*`, or a comma-separated list of entity tags (empty list elements are allowed, as
/// RFC 9110 §5.6.1 asks of recipients). A comma inside the quotes belongs to the tag
/// (`etagc` includes it), so the list is scanned, not split. `None` when malformed.
fn parse(value: &str) -> Option<Option<Vec<Tag>>> {
    let ows = |c: char| c == ' ' || c == '\t';
    let value = value.trim_matches(ows);
    if value == "*" {
        return Some(None);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(ows);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner_start = quoted.strip_prefix('"')?;
        let close = inner_start.find('"')?;
        let inner = &inner_start[..close];
        // etagc = %x21 / %x23-7E / obs-text: no quote, no space, no control.
        if !inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(Tag {
            weak,
            version: parse_version(inner),
        });
        // After a tag: optional whitespace, then a comma or the end.
        rest = inner_start[close + 1..].trim_start_matches(ows);
        if !(rest.is_empty() || rest.starts_with(',')) {
            return None;
        }
    }
    if tags.is_empty() {
        return None;
    }
    Some(Some(tags))
}

/// Our versions are written canonically (no sign, no leading zero); anything else is
/// a tag we never issued.
fn parse_version(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn malformed(header: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "The {header} header is not `*` or a list of entity tags."
    ))
}

/// An empty field value names no tag at all: treated like an absent header (some
/// clients and proxies send one; the runtime may drop it too).
fn present(header: Option<&str>) -> Option<&str> {
    header.filter(|v| !v.trim_matches([' ', '\t']).is_empty())
}

pub fn if_match(header: Option<&str>) -> Result<Option<IfMatch>, ApiError> {
    let Some(value) = present(header) else {
        return Ok(None);
    };
    match parse(value).ok_or_else(|| malformed("If-Match"))? {
        None => Ok(Some(IfMatch::Any)),
        Some(tags) => Ok(Some(IfMatch::Versions(
            tags.into_iter()
                .filter(|t| !t.weak)
                .filter_map(|t| t.version)
                .collect(),
        ))),
    }
}

pub fn if_none_match(header: Option<&str>) -> Result<Option<IfNoneMatch>, ApiError> {
    let Some(value) = present(header) else {
        return Ok(None);
    };
    match parse(value).ok_or_else(|| malformed("If-None-Match"))? {
        None => Ok(Some(IfNoneMatch::Any)),
        Some(tags) => Ok(Some(IfNoneMatch::Versions(
            tags.into_iter().filter_map(|t| t.version).collect(),
        ))),
    }
}

/// The `If-Match` condition as a statement parameter: NULL for none (or `*`, which any
/// existing task meets), else a Postgres integer array literal such as `{3,4}`.
pub fn versions_param(condition: Option<&IfMatch>) -> Option<String> {
    match condition {
        None | Some(IfMatch::Any) => None,
        Some(IfMatch::Versions(versions)) => {
            let list: Vec<String> = versions.iter().map(i64::to_string).collect();
            Some(format!("{{{}}}", list.join(",")))
        }
    }
}

/// An `Idempotency-Key`: 1–255 visible ASCII characters.
pub fn idempotency_key(header: Option<&str>) -> Result<Option<&str>, ApiError> {
    let Some(key) = header else { return Ok(None) };
    let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if (1..=255).contains(&key.len()) && visible {
        Ok(Some(key))
    } else {
        Err(ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )]))
    }
}

/// What a retry must repeat exactly for its key to replay the original: the validated
/// fields, serialized one fixed way (the database stores and compares its hash).
pub fn request_fingerprint(task: &super::NewTask) -> String {
    #[derive(Serialize)]
    struct Fingerprint<'a> {
        title: &'a str,
        description: Option<&'a str>,
        completed: bool,
    }
    serde_json::to_string(&Fingerprint {
        title: &task.title,
        description: task.description.as_deref(),
        completed: task.completed,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_versions() {
        assert_eq!(etag(1), "\"1\"");
        assert_eq!(etag(42), "\"42\"");
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        assert_eq!(if_match(None), Ok(None));
        assert_eq!(
            if_match(Some("")),
            Ok(None),
            "an empty value is no condition"
        );
        assert_eq!(if_none_match(Some(" \t")), Ok(None));
        assert_eq!(if_match(Some("*")), Ok(Some(IfMatch::Any)));
        assert_eq!(
            if_match(Some(r#""3""#)),
            Ok(Some(IfMatch::Versions(vec![3])))
        );
        assert_eq!(
            if_match(Some(r#" "3" , W/"4", "x", , "5""#)),
            Ok(Some(IfMatch::Versions(vec![3, 5]))),
            "a weak tag never matches; a foreign tag matches nothing"
        );
        assert_eq!(
            if_match(Some(r#"W/"3""#)),
            Ok(Some(IfMatch::Versions(vec![])))
        );
        // A comma inside the quotes is part of the tag (RFC 9110 `etagc`).
        assert_eq!(
            if_match(Some(r#"W/"a,b", "", "7",, "x,,y""#)),
            Ok(Some(IfMatch::Versions(vec![7])))
        );
        for foreign in [r#""03""#, r#""-1""#, r#""+3""#, r#""3.0""#, r#""""#] {
            assert_eq!(
                if_match(Some(foreign)),
                Ok(Some(IfMatch::Versions(vec![]))),
                "{foreign}"
            );
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tags = if_none_match(Some(r#"W/"3", "7""#)).unwrap().unwrap();
        assert!(tags.matches(3) && tags.matches(7) && !tags.matches(4));
        assert!(if_none_match(Some("*")).unwrap().unwrap().matches(99));
    }

    #[test]
    fn malformed_headers_are_a_400_naming_the_header() {
        for bad in [
            "3",
            "\"3",
            "W/3",
            "w/\"3\"",
            "\"a b\"",
            "\"a\"\"b\"",
            "*, \"3\"",
            " , ",
            "\"\u{1}\"",
            "\"3\" \"4\"",
            "\"3\"x",
        ] {
            match if_match(Some(bad)) {
                Err(ApiError::BadRequest(detail)) => assert!(detail.contains("If-Match"), "{bad}"),
                other => panic!("{bad:?}: {other:?}"),
            }
            match if_none_match(Some(bad)) {
                Err(ApiError::BadRequest(detail)) => {
                    assert!(detail.contains("If-None-Match"), "{bad}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_condition_travels_as_an_array_or_null() {
        assert_eq!(versions_param(None), None);
        assert_eq!(versions_param(Some(&IfMatch::Any)), None);
        assert_eq!(
            versions_param(Some(&IfMatch::Versions(vec![3, 4]))).as_deref(),
            Some("{3,4}")
        );
        assert_eq!(
            versions_param(Some(&IfMatch::Versions(vec![]))).as_deref(),
            Some("{}")
        );
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(idempotency_key(None), Ok(None));
        assert_eq!(idempotency_key(Some("a")), Ok(Some("a")));
        let longest = "k".repeat(255);
        assert_eq!(idempotency_key(Some(&longest)), Ok(Some(longest.as_str())));
        for bad in ["", "a b", "é", "a\tb", &"k".repeat(256)] {
            match idempotency_key(Some(bad)) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors[0].field, "Idempotency-Key")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_fingerprint_covers_every_validated_field() {
        let base = super::super::NewTask {
            title: "t".into(),
            description: None,
            completed: false,
        };
        let same = request_fingerprint(&base.clone());
        assert_eq!(request_fingerprint(&base), same);
        for other in [
            super::super::NewTask {
                title: "u".into(),
                ..base.clone()
            },
            super::super::NewTask {
                description: Some(String::new()),
                ..base.clone()
            },
            super::super::NewTask {
                completed: true,
                ..base.clone()
            },
        ] {
            assert_ne!(request_fingerprint(&other), same);
        }
    }
}
