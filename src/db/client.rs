//! `NeonClient`: the transport to Neon's SQL-over-HTTP endpoint, on reqwest.
//!
//! One API request makes at most one call here (`run`), and every call is one batch
//! transaction: the row-level-security prefix, then the request's statement. Every
//! attempt has a deadline, so a slow database turns into a prompt 503 instead of a
//! hung request.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use url::Url;

use super::protocol::{batch_body, parse_batch, parse_error, Access, DbError, QueryResult};
use super::rls::{self, Serialize};
use super::Statement;
use crate::adapter::with_deadline;
use crate::auth::UserScope;
use crate::config::DatabaseConfig;

/// Deadline of one HTTP attempt, connection to last body byte.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct NeonClient {
    http: reqwest::Client,
    endpoint: Url,
    /// Prebuilt once per access kind: they hold the connection string, which must
    /// never be logged, and building them per request would re-validate the same
    /// bytes every time.
    read_headers: HeaderMap,
    write_headers: HeaderMap,
}

impl NeonClient {
    pub fn new(config: &DatabaseConfig) -> Result<Self, DbError> {
        super::redirect_guard::install().map_err(DbError::Setup)?;
        let mut headers = HeaderMap::new();
        let mut connection = HeaderValue::from_str(&config.connection_string)
            .map_err(|_| DbError::Unavailable("DATABASE_URL is not a valid header value".into()))?;
        connection.set_sensitive(true);
        headers.insert("neon-connection-string", connection);
        headers.insert("neon-raw-text-output", HeaderValue::from_static("true"));
        headers.insert("neon-array-mode", HeaderValue::from_static("true"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            "neon-batch-isolation-level",
            HeaderValue::from_static("ReadCommitted"),
        );
        let with_read_only = |value| {
            let mut h = headers.clone();
            h.insert("neon-batch-read-only", HeaderValue::from_static(value));
            h
        };
        Ok(Self {
            http: reqwest::Client::new(),
            endpoint: config.sql_endpoint.clone(),
            read_headers: with_read_only("true"),
            write_headers: with_read_only("false"),
        })
    }

    /// Runs `statement` for `user` as one transaction, behind the row-level-security
    /// prefix and after `housekeeping` (`rls::batch`), in one round trip; returns the
    /// statement's result.
    pub async fn run(
        &self,
        user: &UserScope,
        housekeeping: Option<&Statement>,
        statement: &Statement,
        access: Access,
        serialize: Serialize,
    ) -> Result<QueryResult, DbError> {
        let batch = rls::batch(user, housekeeping, statement, serialize);
        let body = batch_body(&batch);
        let reply = self.send(body, access).await.map_err(rls::classify)?;
        let mut results = parse_batch(&reply, batch.len())?;
        results
            .pop()
            .ok_or_else(|| DbError::Unavailable("empty batch result".into()))
    }

    /// Reads are retried once after a quick, transient failure. A timeout is not
    /// retried (the endpoint is slow, not flaky, and a second wait would double the
    /// worst case), and writes never are: a lost reply may mean the write committed.
    async fn send(&self, body: Vec<u8>, access: Access) -> Result<Vec<u8>, DbError> {
        let first = self.attempt(&body, access).await;
        match first {
            Err(Failure::Transient(_)) if access == Access::Read => self
                .attempt(&body, access)
                .await
                .map_err(Failure::into_error),
            other => other.map_err(Failure::into_error),
        }
    }

    async fn attempt(&self, body: &[u8], access: Access) -> Result<Vec<u8>, Failure> {
        with_deadline(self.attempt_once(body, access), ATTEMPT_TIMEOUT)
            .await
            .unwrap_or_else(|| {
                Err(Failure::Final(DbError::Unavailable(
                    "SQL endpoint timed out".into(),
                )))
            })
    }

    async fn attempt_once(&self, body: &[u8], access: Access) -> Result<Vec<u8>, Failure> {
        let headers = match access {
            Access::Read => &self.read_headers,
            Access::Write => &self.write_headers,
        };
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(headers.clone())
            .body(body.to_vec())
            .send()
            .await
            .map_err(Failure::from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(Failure::from_reqwest)?;
        if status == 200 {
            // Takes reqwest's buffer over rather than copying it (a list reply is tens of KB).
            return Ok(Vec::from(bytes));
        }
        // A 3xx arrives here (see `redirect_guard`): like any other non-200 it is the
        // endpoint failing, and below 500 it is never retried.
        let err = parse_error(status, &bytes);
        let transient = match &err {
            DbError::Sql { code, .. } => DbError::is_transient_sql(code),
            DbError::Unavailable(_) | DbError::Setup(_) => status >= 500,
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
