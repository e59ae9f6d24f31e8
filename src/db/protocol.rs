//! Neon's SQL-over-HTTP wire format (SPEC §7), without any I/O.
//!
//! Requests go out in "raw text, array mode": every parameter is Postgres text or null
//! and every result cell comes back as text or null, tagged by its column's type OID.
//! Decoding here turns that text into typed values, so the transport in `client.rs`
//! only moves bytes and this file can be tested natively.

use serde::Deserialize;
use serde_json::{json, Value as Json};

/// One SQL statement. The text is `&'static str` on purpose: SQL is written in the
/// source, next to the code that runs it, and can never be assembled from input.
/// Everything variable travels in `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<Option<String>>,
}

impl Statement {
    pub fn new(sql: &'static str) -> Self {
        Self {
            sql,
            params: Vec::new(),
        }
    }

    /// Binds the next `$n` parameter as Postgres text.
    pub fn bind(mut self, value: impl ToString) -> Self {
        self.params.push(Some(value.to_string()));
        self
    }

    pub fn bind_opt(mut self, value: Option<impl ToString>) -> Self {
        self.params.push(value.map(|v| v.to_string()));
        self
    }
}

/// Whether a call only reads. Reads run in read-only transactions and may be retried
/// once; writes are never retried, so a lost response cannot apply a write twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Why a call failed, split by what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// Postgres refused the statement (HTTP 400 with a SQLSTATE): a constraint, a type
    /// error, a bug in our SQL. Retrying will not help.
    Sql {
        code: String,
        constraint: Option<String>,
        message: String,
    },
    /// The database could not answer: network error, deadline passed, 5xx, or a reply
    /// that is not the protocol. The message is for the log and holds no secret.
    Unavailable(String),
}

impl DbError {
    /// SQLSTATEs that mean "try again" rather than "your statement is wrong":
    /// serialization failures and deadlocks (class 40), connection and resource
    /// problems (08, 53, 57P0x).
    pub fn is_transient_sql(code: &str) -> bool {
        code.starts_with("40")
            || code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P0")
    }
}

// Type OIDs from Postgres' pg_type.dat: stable across versions.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const JSONB: u32 = 3802;
}

/// A decoded result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Exact decimal text: converting `numeric` to a float would lose digits.
    Numeric(String),
    /// `timestamptz` normalised to RFC 3339 UTC with microseconds.
    Timestamp(String),
    Json(Json),
    Bytes(Vec<u8>),
    /// text, varchar, uuid, date and every type without a richer decoding.
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_oid: u32,
}

/// The decoded result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub command: String,
    pub row_count: Option<u64>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl QueryResult {
    /// Position of a column; rows are then decoded by index.
    pub fn column(&self, name: &str) -> Result<usize, DecodeError> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| DecodeError(format!("no column {name}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// Takes one cell out of a row by value, so decoding moves strings instead of
/// copying them. A type mismatch is a bug in our SQL (or a schema out of step).
pub fn take(row: &mut [Value], index: usize) -> Value {
    row.get_mut(index)
        .map_or(Value::Null, |cell| std::mem::replace(cell, Value::Null))
}

impl Value {
    fn mismatch(&self, want: &str) -> DecodeError {
        DecodeError(format!("expected {want}"))
    }

    pub fn into_i64(self) -> Result<i64, DecodeError> {
        match self {
            Value::Int(v) => Ok(v),
            other => Err(other.mismatch("an integer")),
        }
    }

    pub fn into_bool(self) -> Result<bool, DecodeError> {
        match self {
            Value::Bool(v) => Ok(v),
            other => Err(other.mismatch("a boolean")),
        }
    }

    pub fn into_text(self) -> Result<String, DecodeError> {
        match self {
            Value::Text(v) => Ok(v),
            other => Err(other.mismatch("text")),
        }
    }

    pub fn into_opt_text(self) -> Result<Option<String>, DecodeError> {
        match self {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            other => Err(other.mismatch("text or null")),
        }
    }

    pub fn into_timestamp(self) -> Result<String, DecodeError> {
        match self {
            Value::Timestamp(v) => Ok(v),
            other => Err(other.mismatch("a timestamptz")),
        }
    }
}

/// The JSON body for one statement.
pub fn single_body(statement: &Statement) -> Json {
    json!({ "query": statement.sql, "params": statement.params })
}

/// The JSON body for a batch, which Neon runs as one transaction.
pub fn batch_body(statements: &[Statement]) -> Json {
    let queries: Vec<Json> = statements.iter().map(single_body).collect();
    json!({ "queries": queries })
}

#[derive(Deserialize)]
struct WireField {
    name: String,
    #[serde(rename = "dataTypeID")]
    data_type_id: u32,
}

#[derive(Deserialize)]
struct WireResult {
    #[serde(default)]
    command: Option<String>,
    #[serde(default, rename = "rowCount")]
    row_count: Option<u64>,
    fields: Vec<WireField>,
    rows: Vec<Vec<Option<String>>>,
}

#[derive(Deserialize)]
struct WireBatch {
    results: Vec<WireResult>,
}

#[derive(Deserialize)]
struct WireError {
    message: Option<String>,
    code: Option<String>,
    constraint: Option<String>,
}

fn garbage(what: &str) -> DbError {
    DbError::Unavailable(format!("unexpected reply from the SQL endpoint: {what}"))
}

/// Decodes a 200 reply to a single statement.
pub fn parse_single(body: &[u8]) -> Result<QueryResult, DbError> {
    let wire: WireResult =
        serde_json::from_slice(body).map_err(|_| garbage("not a query result"))?;
    decode_result(wire)
}

/// Decodes a 200 reply to a batch of `expected` statements.
pub fn parse_batch(body: &[u8], expected: usize) -> Result<Vec<QueryResult>, DbError> {
    let wire: WireBatch =
        serde_json::from_slice(body).map_err(|_| garbage("not a batch result"))?;
    if wire.results.len() != expected {
        return Err(garbage("wrong number of batch results"));
    }
    wire.results.into_iter().map(decode_result).collect()
}

/// Maps a non-200 reply. Only a 400 with Neon's JSON error shape is a statement error;
/// anything else (5xx, a proxy's HTML page, an empty 400) means the database is not
/// answering properly, which the caller reports as 503.
pub fn parse_error(status: u16, body: &[u8]) -> DbError {
    if status == 400 {
        if let Ok(WireError {
            message,
            code: Some(code),
            constraint,
        }) = serde_json::from_slice::<WireError>(body)
        {
            return DbError::Sql {
                code,
                constraint,
                message: message.unwrap_or_default(),
            };
        }
    }
    DbError::Unavailable(format!("SQL endpoint answered HTTP {status}"))
}

fn decode_result(wire: WireResult) -> Result<QueryResult, DbError> {
    let columns: Vec<Column> = wire
        .fields
        .into_iter()
        .map(|f| Column {
            name: f.name,
            type_oid: f.data_type_id,
        })
        .collect();
    let mut rows = Vec::with_capacity(wire.rows.len());
    for raw in wire.rows {
        if raw.len() != columns.len() {
            return Err(garbage("row width differs from fields"));
        }
        let row = raw
            .into_iter()
            .zip(&columns)
            .map(|(cell, col)| match cell {
                None => Ok(Value::Null),
                Some(text) => decode_text(col.type_oid, text),
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
    }
    Ok(QueryResult {
        command: wire.command.unwrap_or_default(),
        row_count: wire.row_count,
        columns,
        rows,
    })
}

/// Decodes one cell from Postgres' text output format.
pub fn decode_text(type_oid: u32, text: String) -> Result<Value, DbError> {
    let bad = |what: &str| garbage(&format!("undecodable {what} value"));
    Ok(match type_oid {
        oid::BOOL => match text.as_str() {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => return Err(bad("bool")),
        },
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => {
            Value::Int(text.parse().map_err(|_| bad("integer"))?)
        }
        oid::FLOAT4 | oid::FLOAT8 => Value::Float(match text.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().map_err(|_| bad("float"))?,
        }),
        oid::NUMERIC => Value::Numeric(text),
        oid::JSON | oid::JSONB => {
            Value::Json(serde_json::from_str(&text).map_err(|_| bad("json"))?)
        }
        oid::TIMESTAMPTZ => {
            Value::Timestamp(timestamptz_to_rfc3339(&text).ok_or_else(|| bad("timestamptz"))?)
        }
        oid::BYTEA => Value::Bytes(decode_bytea_hex(&text).ok_or_else(|| bad("bytea"))?),
        _ => Value::Text(text),
    })
}

fn decode_bytea_hex(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Converts Postgres' ISO output (`2026-11-26 11:08:51.5+05:30`) to RFC 3339 in UTC
/// with exactly six fraction digits, so timestamps sort as strings and carry the full
/// precision that keyset cursors need. The session time zone may be anything; the
/// offset in the text is applied. Infinite and BC values are refused.
pub fn timestamptz_to_rfc3339(text: &str) -> Option<String> {
    if let Some(utc) = utc_fast_path(text) {
        return Some(utc);
    }
    let (date, rest) = text.split_once(' ')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;

    let sign_at = rest.find(['+', '-'])?;
    let (time, offset) = rest.split_at(sign_at);
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f))
            if !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (hms, f)
        }
        Some(_) => return None,
        None => (time, ""),
    };
    let mut hms_parts = hms.splitn(3, ':');
    let hour: i64 = hms_parts.next()?.parse().ok()?;
    let minute: i64 = hms_parts.next()?.parse().ok()?;
    let second: i64 = hms_parts.next()?.parse().ok()?;

    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut offset_parts = offset[1..].splitn(3, ':');
    let off_h: i64 = offset_parts.next()?.parse().ok()?;
    let off_m: i64 = offset_parts.next().map_or(Some(0), |m| m.parse().ok())?;
    let off_s: i64 = offset_parts.next().map_or(Some(0), |s| s.parse().ok())?;

    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || year < 1
    {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - sign * (off_h * 3600 + off_m * 60 + off_s);
    let (y, m, d) = civil_from_days(utc.div_euclid(86_400));
    let secs = utc.rem_euclid(86_400);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{fraction:0<6}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// The common case, a UTC session (Neon's default): `YYYY-MM-DD HH:MM:SS[.f]+00` only
/// needs its separators rewritten. Anything else takes the general path.
fn utc_fast_path(text: &str) -> Option<String> {
    let body = text.strip_suffix("+00")?;
    let bytes = body.as_bytes();
    let shape_ok = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b' '
        && bytes[13] == b':'
        && bytes[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| bytes[i].is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let fraction = match &body[19..] {
        "" => "",
        f if f.len() >= 2
            && f.len() <= 7
            && f.starts_with('.')
            && f[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &f[1..]
        }
        _ => return None,
    };
    let (month, day) = (&body[5..7], &body[8..10]);
    let (hour, minute, second) = (&body[11..13], &body[14..16], &body[17..19]);
    let in_range = |v: &str, lo: u8, hi: u8| v.parse::<u8>().is_ok_and(|n| (lo..=hi).contains(&n));
    if !(in_range(month, 1, 12)
        && in_range(day, 1, 31)
        && in_range(hour, 0, 23)
        && in_range(minute, 0, 59)
        && in_range(second, 0, 59))
        || &body[..4] == "0000"
    {
        return None;
    }
    Some(format!("{}T{}.{fraction:0<6}Z", &body[..10], &body[11..19]))
}

// Proleptic Gregorian day counts (the well-known algorithm by Howard Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_text_and_null_params() {
        let st = Statement::new("select $1, $2, $3")
            .bind(42)
            .bind_opt(None::<String>)
            .bind(false);
        assert_eq!(
            single_body(&st),
            json!({"query": "select $1, $2, $3", "params": ["42", null, "false"]})
        );
        assert_eq!(
            batch_body(&[st.clone(), st])["queries"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn decodes_a_neon_reply() {
        let body = r#"{"command":"SELECT","rowCount":1,"rowAsArray":true,
            "fields":[{"name":"id","dataTypeID":20},{"name":"done","dataTypeID":16},
                      {"name":"title","dataTypeID":25},{"name":"note","dataTypeID":1043},
                      {"name":"at","dataTypeID":1184},{"name":"meta","dataTypeID":3802},
                      {"name":"price","dataTypeID":1700},{"name":"small","dataTypeID":21},
                      {"name":"ratio","dataTypeID":701},{"name":"blob","dataTypeID":17}],
            "rows":[["9007199254740993","f","héllo 🌍",null,"2026-11-26 11:08:51.5+00",
                     "{\"a\":[1,2]}","12345678901234567890.000001","-7","0.25","\\xdeadbeef"]]}"#;
        let mut result = parse_single(body.as_bytes()).unwrap();
        let col = |name: &str| result.column(name).unwrap();
        let (id, done, title, note, at) =
            (col("id"), col("done"), col("title"), col("note"), col("at"));
        let (meta, price, small, ratio, blob) = (
            col("meta"),
            col("price"),
            col("small"),
            col("ratio"),
            col("blob"),
        );
        assert!(result.column("missing").is_err());
        let row = &mut result.rows[0];
        assert!(row[title].clone().into_i64().is_err());
        assert_eq!(take(row, id).into_i64().unwrap(), 9_007_199_254_740_993);
        assert!(!take(row, done).into_bool().unwrap());
        assert_eq!(take(row, title).into_text().unwrap(), "héllo 🌍");
        assert_eq!(take(row, note).into_opt_text().unwrap(), None);
        assert_eq!(
            take(row, at).into_timestamp().unwrap(),
            "2026-11-26T11:08:51.500000Z"
        );
        assert_eq!(take(row, meta), Value::Json(json!({"a": [1, 2]})));
        assert_eq!(
            take(row, price),
            Value::Numeric("12345678901234567890.000001".into())
        );
        assert_eq!(take(row, small).into_i64().unwrap(), -7);
        assert_eq!(take(row, ratio), Value::Float(0.25));
        assert_eq!(take(row, blob), Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(take(row, id), Value::Null, "a taken cell is empty");
    }

    #[test]
    fn batch_needs_every_result() {
        let one = r#"{"fields":[],"rows":[],"command":"INSERT","rowCount":1}"#;
        let body = format!(r#"{{"results":[{one},{one}]}}"#);
        assert_eq!(parse_batch(body.as_bytes(), 2).unwrap().len(), 2);
        assert!(matches!(
            parse_batch(body.as_bytes(), 3),
            Err(DbError::Unavailable(_))
        ));
    }

    #[test]
    fn garbage_is_unavailable_not_a_panic() {
        for body in [
            &b""[..],
            b"<html>",
            b"{}",
            b"[1,2]",
            br#"{"fields":[],"rows":[[1]]}"#,
        ] {
            assert!(matches!(parse_single(body), Err(DbError::Unavailable(_))));
        }
        let bad_int = br#"{"fields":[{"name":"n","dataTypeID":23}],"rows":[["x"]]}"#;
        assert!(matches!(
            parse_single(bad_int),
            Err(DbError::Unavailable(_))
        ));
        let short_row = br#"{"fields":[{"name":"n","dataTypeID":23}],"rows":[[]]}"#;
        assert!(matches!(
            parse_single(short_row),
            Err(DbError::Unavailable(_))
        ));
    }

    #[test]
    fn errors_map_by_status_and_shape() {
        let body = br#"{"message":"new row violates check constraint","code":"23514",
                        "constraint":"tasks_title_length","severity":"ERROR"}"#;
        assert_eq!(
            parse_error(400, body),
            DbError::Sql {
                code: "23514".into(),
                constraint: Some("tasks_title_length".into()),
                message: "new row violates check constraint".into(),
            }
        );
        assert!(matches!(parse_error(400, b"oops"), DbError::Unavailable(_)));
        assert!(matches!(parse_error(500, body), DbError::Unavailable(_)));
        assert!(matches!(parse_error(502, b""), DbError::Unavailable(_)));
    }

    #[test]
    fn timestamps_become_utc_rfc3339() {
        let cases = [
            ("2026-11-26 11:08:51+00", "2026-11-26T11:08:51.000000Z"),
            (
                "2026-11-26 11:08:51.123456+00",
                "2026-11-26T11:08:51.123456Z",
            ),
            ("2026-01-01 01:30:00.1+05:30", "2025-12-31T20:00:00.100000Z"),
            ("2024-02-28 23:00:00-02", "2024-02-29T01:00:00.000000Z"),
            (
                "1900-03-01 00:00:00+00:19:32",
                "1900-02-28T23:40:28.000000Z",
            ),
        ];
        for (pg, want) in cases {
            assert_eq!(timestamptz_to_rfc3339(pg).as_deref(), Some(want), "{pg}");
        }
        for bad in [
            "infinity",
            "2026-11-26",
            "2026-13-01 00:00:00+00",
            "0001-01-01 00:00:00+00 BC",
        ] {
            assert_eq!(timestamptz_to_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn transient_sqlstates() {
        assert!(DbError::is_transient_sql("40001"));
        assert!(DbError::is_transient_sql("57P01"));
        assert!(!DbError::is_transient_sql("23514"));
        assert!(!DbError::is_transient_sql("42P01"));
    }
}
