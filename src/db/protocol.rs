//! Neon's SQL-over-HTTP wire format (the request a batch becomes, in docs/isolation.md), without any I/O.
//!
//! Requests go out in "raw text, array mode": every parameter is Postgres text or null
//! and every result cell comes back as text or null, tagged by its column's type OID.
//! Decoding here turns that text into typed values, so the transport in `client.rs`
//! only moves bytes and this file can be tested natively.

use serde::{Deserialize, Serialize};

use crate::auth::UserScope;
use crate::timestamp::Timestamp;

/// One SQL statement. The text is `&'static str` on purpose: SQL is written in the
/// source, next to the code that runs it, and can never be assembled from input.
/// Everything variable travels in `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: &'static str,
    params: Vec<Option<String>>,
}

impl Statement {
    /// The only way to make a statement: its `$1` is the verified user, so no
    /// statement exists without one (the audit in `db::audit` checks that every
    /// per-user table reference is constrained to `$1`).
    pub fn for_user(sql: &'static str, user: &UserScope) -> Self {
        Self {
            sql,
            params: vec![Some(user.user_id().to_string())],
        }
    }

    pub fn sql(&self) -> &'static str {
        self.sql
    }

    pub fn params(&self) -> &[Option<String>] {
        &self.params
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
    /// The database is not set up for this worker (the row-level-security prefix
    /// failed: its role is missing or not granted). The message says what to run.
    Setup(String),
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

// Type OIDs from Postgres' pg_type.dat: stable across versions. Only the types the
// worker's statements return get a decoding; every other type stays text.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TIMESTAMPTZ: u32 = 1184;
}

/// A decoded result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Timestamp(Timestamp),
    /// text, varchar and every type without a richer decoding.
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

    pub fn into_timestamp(self) -> Result<Timestamp, DecodeError> {
        match self {
            Value::Timestamp(v) => Ok(v),
            other => Err(other.mismatch("a timestamptz")),
        }
    }
}

/// One statement on the wire. Borrowed, so the request body is written straight
/// from the statements (no `serde_json::Value` tree, no copy of the SQL text).
#[derive(Serialize)]
struct WireQuery<'a> {
    query: &'a str,
    params: &'a [Option<String>],
}

#[derive(Serialize)]
struct WireQueries<'a> {
    queries: Vec<WireQuery<'a>>,
}

fn wire(statement: &Statement) -> WireQuery<'_> {
    WireQuery {
        query: statement.sql,
        params: &statement.params,
    }
}

/// The JSON body for one statement.
pub fn single_body(statement: &Statement) -> Vec<u8> {
    // Strings and string arrays only: serializing cannot fail.
    serde_json::to_vec(&wire(statement)).unwrap_or_default()
}

/// The JSON body for a batch, which Neon runs as one transaction.
pub fn batch_body(statements: &[Statement]) -> Vec<u8> {
    let queries = statements.iter().map(wire).collect();
    serde_json::to_vec(&WireQueries { queries }).unwrap_or_default()
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
        oid::INT2 | oid::INT4 | oid::INT8 => Value::Int(text.parse().map_err(|_| bad("integer"))?),
        oid::TIMESTAMPTZ => {
            Value::Timestamp(Timestamp::from_postgres(&text).ok_or_else(|| bad("timestamptz"))?)
        }
        _ => Value::Text(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_text_and_null_params() {
        let st = Statement::for_user("select $1, $2, $3", &UserScope::for_tests("u"))
            .bind_opt(None::<String>)
            .bind(false);
        assert_eq!(
            single_body(&st),
            br#"{"query":"select $1, $2, $3","params":["u",null,"false"]}"#
        );
        let quoted = Statement::for_user("select '\"'", &UserScope::for_tests("\\\n"));
        let batch: serde_json::Value = serde_json::from_slice(&batch_body(&[st, quoted])).unwrap();
        assert_eq!(
            batch,
            serde_json::json!({"queries": [
                {"query": "select $1, $2, $3", "params": ["u", null, "false"]},
                {"query": "select '\"'", "params": ["\\\n"]},
            ]})
        );
    }

    #[test]
    fn decodes_a_neon_reply() {
        let body = r#"{"command":"SELECT","rowCount":1,"rowAsArray":true,
            "fields":[{"name":"id","dataTypeID":20},{"name":"done","dataTypeID":16},
                      {"name":"title","dataTypeID":25},{"name":"note","dataTypeID":1043},
                      {"name":"at","dataTypeID":1184},{"name":"small","dataTypeID":21},
                      {"name":"price","dataTypeID":1700}],
            "rows":[["9007199254740993","f","héllo 🌍",null,"2026-11-26 11:08:51.5+00",
                     "-7","12345678901234567890.000001"]]}"#;
        let mut result = parse_single(body.as_bytes()).unwrap();
        let col = |name: &str| result.column(name).unwrap();
        let (id, done, title, note, at) =
            (col("id"), col("done"), col("title"), col("note"), col("at"));
        let (small, price) = (col("small"), col("price"));
        assert!(result.column("missing").is_err());
        let row = &mut result.rows[0];
        assert!(row[title].clone().into_i64().is_err());
        assert_eq!(take(row, id).into_i64().unwrap(), 9_007_199_254_740_993);
        assert!(!take(row, done).into_bool().unwrap());
        assert_eq!(take(row, title).into_text().unwrap(), "héllo 🌍");
        assert_eq!(take(row, note).into_opt_text().unwrap(), None);
        assert_eq!(
            take(row, at).into_timestamp().unwrap().as_str(),
            "2026-11-26T11:08:51.500000Z"
        );
        assert_eq!(take(row, small).into_i64().unwrap(), -7);
        // A type without its own decoding stays exact text.
        assert_eq!(
            take(row, price),
            Value::Text("12345678901234567890.000001".into())
        );
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
    fn transient_sqlstates() {
        assert!(DbError::is_transient_sql("40001"));
        assert!(DbError::is_transient_sql("57P01"));
        assert!(!DbError::is_transient_sql("23514"));
        assert!(!DbError::is_transient_sql("42P01"));
    }
}
