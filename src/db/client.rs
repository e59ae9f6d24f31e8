//! `NeonClient`: the transport to Neon's SQL-over-HTTP endpoint (SPEC §7), on reqwest.
//!
//! One API request makes at most one call here, and every call has a deadline, so a
//! slow database turns into a prompt 503 instead of a hung request.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use url::Url;

use super::protocol::{
    batch_body, parse_batch, parse_error, parse_single, Access, DbError, QueryResult, Statement,
};
use crate::adapter::with_deadline;
use crate::config::DatabaseConfig;

/// Deadline of one HTTP attempt, connection to last body byte.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct NeonClient {
    http: reqwest::Client,
    endpoint: Url,
    /// Prebuilt once: it holds the connection string, which must never be logged, and
    /// building it per request would re-validate the same bytes every time.
    headers: HeaderMap,
}

enum Body<'a> {
    Single(&'a Statement),
    Batch(&'a [Statement]),
}

impl NeonClient {
    pub fn new(config: &DatabaseConfig) -> Result<Self, DbError> {
        let mut headers = HeaderMap::new();
        let mut connection = HeaderValue::from_str(&config.connection_string)
            .map_err(|_| DbError::Unavailable("DATABASE_URL is not a valid header value".into()))?;
        connection.set_sensitive(true);
        headers.insert("neon-connection-string", connection);
        headers.insert("neon-raw-text-output", HeaderValue::from_static("true"));
        headers.insert("neon-array-mode", HeaderValue::from_static("true"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Self {
            http: reqwest::Client::new(),
            endpoint: config.sql_endpoint.clone(),
            headers,
        })
    }

    /// Runs one statement.
    pub async fn query(
        &self,
        statement: &Statement,
        access: Access,
    ) -> Result<QueryResult, DbError> {
        let body = self.send(Body::Single(statement), access).await?;
        parse_single(&body)
    }

    /// Runs statements as one transaction in one round trip; nothing of it persists if
    /// any statement fails.
    pub async fn transaction(
        &self,
        statements: &[Statement],
        access: Access,
    ) -> Result<Vec<QueryResult>, DbError> {
        let body = self.send(Body::Batch(statements), access).await?;
        parse_batch(&body, statements.len())
    }

    /// Reads are retried once after a quick, transient failure. A timeout is not
    /// retried (the endpoint is slow, not flaky, and a second wait would double the
    /// worst case), and writes never are: a lost reply may mean the write committed.
    async fn send(&self, body: Body<'_>, access: Access) -> Result<Vec<u8>, DbError> {
        let first = self.attempt(&body, access).await;
        match first {
            Err(Failure::Transient(_)) if access == Access::Read => self
                .attempt(&body, access)
                .await
                .map_err(Failure::into_error),
            other => other.map_err(Failure::into_error),
        }
    }

    /// The deadline is ours rather than reqwest's `timeout()`: in workerd reqwest
    /// cannot tell its own deadline from other aborts, and a timeout must be known
    /// as one (it is not retried: the endpoint is slow, not flaky). Dropping the
    /// losing request future aborts its fetch.
    async fn attempt(&self, body: &Body<'_>, access: Access) -> Result<Vec<u8>, Failure> {
        with_deadline(self.attempt_once(body, access), ATTEMPT_TIMEOUT)
            .await
            .unwrap_or_else(|| {
                Err(Failure::Final(DbError::Unavailable(
                    "SQL endpoint timed out".into(),
                )))
            })
    }

    async fn attempt_once(&self, body: &Body<'_>, access: Access) -> Result<Vec<u8>, Failure> {
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone());
        request = match body {
            Body::Single(statement) => request.json(&super::protocol::single_body(statement)),
            Body::Batch(statements) => request
                .header("neon-batch-isolation-level", "ReadCommitted")
                .header(
                    "neon-batch-read-only",
                    if access == Access::Read {
                        "true"
                    } else {
                        "false"
                    },
                )
                .json(&batch_body(statements)),
        };
        let response = request.send().await.map_err(Failure::from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(Failure::from_reqwest)?;
        if status == 200 {
            return Ok(bytes.to_vec());
        }
        let err = parse_error(status, &bytes);
        let transient = match &err {
            DbError::Sql { code, .. } => DbError::is_transient_sql(code),
            DbError::Unavailable(_) => status >= 500,
        };
        Err(if transient {
            Failure::Transient(err)
        } else {
            Failure::Final(err)
        })
    }
}

enum Failure {
    /// Worth one more try for a read.
    Transient(DbError),
    Final(DbError),
}

impl Failure {
    fn from_reqwest(err: reqwest::Error) -> Failure {
        // reqwest's message names the endpoint URL at most, never our headers.
        Failure::Transient(DbError::Unavailable(format!(
            "SQL endpoint unreachable: {err}"
        )))
    }

    fn into_error(self) -> DbError {
        match self {
            Failure::Transient(e) | Failure::Final(e) => e,
        }
    }
}
