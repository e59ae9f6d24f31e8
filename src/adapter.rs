//! The adapter between workerd and the plain-Rust core: the only module that touches
//! the runtime's request and response.
//!
//! A request flows, in this order: read the head (method, URL, a few headers) →
//! route → configuration (loaded once per isolate) → authenticate (protected routes
//! only; the result is the `UserScope` every data statement needs) → read the body,
//! only if the operation takes one → `tasks::handlers::plan` → at most one database
//! round trip → `finish` → CORS headers → one log line. The 401 of a missing or bad
//! token therefore always comes before any body is read.
//!
//! It also owns the two runtime helpers the verifier and the Neon client share: a
//! capped body read and a future raced against a deadline.

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use web_sys::Request;
use worker::{ByteStream, Context, Env};

use crate::api::headers::{self, Timing};
use crate::api::routes::{self, path_of, query_of, resolve, Op, RouteError};
use crate::api::{cors, me, openapi};
use crate::auth::authenticate;
use crate::config::{Config, ConfigError};
use crate::db::client::NeonClient;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::tasks::handlers::{finish, plan, TaskRequest};
use crate::tasks::input::{body_read, BodyRead, MAX_BODY_BYTES};

/// What an isolate builds once and every request then shares.
pub struct AppState {
    pub config: Config,
    pub db: NeonClient,
}

thread_local! {
    // Workers run one isolate per thread; configuration cannot change within an
    // isolate, so it is loaded and validated once, on the first request.
    static STATE: OnceCell<Result<Rc<AppState>, ConfigError>> = const { OnceCell::new() };
    static UNLIMITED_LOGGED: Cell<bool> = const { Cell::new(false) };
}

/// The Workers Rate Limiting binding that limits each user's writes.
const WRITE_LIMITER: &str = "WRITE_LIMITER";

fn load_state(env: &Env) -> Result<Rc<AppState>, ApiError> {
    let loaded = STATE.with(|cell| {
        cell.get_or_init(|| {
            log_isolate_start();
            // Secrets and vars are the same property on `env`; where one was declared
            // comes from the build's wrangler.toml (see `declared_source`).
            let config = Config::load(|name| {
                let value = env.var(name).ok()?.to_string();
                Some((value, crate::config::declared_source(name)))
            })?;
            for warning in &config.warnings {
                worker::console_warn!("configuration: {warning}");
            }
            let db = NeonClient::new(&config.database).map_err(|e| ConfigError {
                variable: "DATABASE_URL",
                reason: match e {
                    crate::db::DbError::Setup(reason) => reason,
                    _ => "cannot be sent as a header".into(),
                },
            })?;
            Ok(Rc::new(AppState { config, db }))
        })
        .clone()
    });
    loaded.map_err(|e| ApiError::Misconfigured {
        variable: e.variable,
        reason: e.reason,
    })
}

pub async fn handle(req: Request, env: Env, ctx: &Context) -> worker::Result<web_sys::Response> {
    let started = js_sys::Date::now();
    let method = req.method();
    let url = req.url();
    let path = path_of(&url);
    let origin = header(&req, "origin");
    // Public routes answer even when configuration is broken; protected ones turn
    // the error into their 500.
    let state = load_state(&env);
    let mut timing = Timing::default();

    let (pattern, outcome) = if method == "OPTIONS" {
        preflight(&req, path, origin.as_deref(), &state)
    } else {
        match resolve(&method, path) {
            Ok(matched) => {
                let outcome = match matched.op {
                    Op::Health => Ok(Reply::json(200, &serde_json::json!({"status": "ok"}))),
                    Op::OpenApi => Ok(openapi::reply()),
                    op => {
                        let request = Protected {
                            op,
                            path_user: matched.user_id.as_deref(),
                            task_id: matched.task_id,
                            path,
                            query: query_of(&url),
                        };
                        protected(&req, &env, ctx, request, &state, &mut timing).await
                    }
                };
                (matched.pattern, outcome)
            }
            Err(RouteError::NotFound) => ("<unmatched>", Err(ApiError::NotFound)),
            Err(RouteError::MethodNotAllowed { pattern, allow }) => {
                (pattern, Err(ApiError::MethodNotAllowed { allow }))
            }
        }
    };
    let (mut reply, reason) = match outcome {
        Ok(reply) => (reply, None),
        Err(err) => (Reply::problem(&err), err.log_reason()),
    };
    if method != "OPTIONS" {
        // Errors get CORS headers too, or a browser app could not read why it failed.
        if let Ok(state) = &state {
            let allowlist = &state.config.cors_allowed_origins;
            reply
                .headers
                .extend(cors::response_headers(allowlist, origin.as_deref()));
        }
    }
    headers::standard(&mut reply, path);
    if path.starts_with("/api/") {
        let timing = Timing {
            auth_ms: timing.auth_ms.or(Some(0.0)),
            ..timing
        };
        if let Some(value) = timing.header() {
            reply.headers.push(("server-timing", value));
        }
    }
    log_request(
        &method,
        pattern,
        reply.status,
        started,
        header(&req, "cf-ray"),
        reason,
    );
    Ok(reply.into_response()?)
}

/// What the router found for a protected operation.
struct Protected<'a> {
    op: Op,
    path_user: Option<&'a str>,
    task_id: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

async fn protected(
    req: &Request,
    env: &Env,
    ctx: &Context,
    route: Protected<'_>,
    state: &Result<Rc<AppState>, ApiError>,
    timing: &mut Timing,
) -> Result<Reply, ApiError> {
    let state = state.as_ref().map_err(Clone::clone)?;
    // The only way to a protected handler: a `UserScope` from a verified token.
    let started = js_sys::Date::now();
    let user = authenticate(req, &state.config.auth, ctx).await;
    timing.auth_ms = Some(js_sys::Date::now() - started);
    let user = user?;
    let op = match route.op {
        Op::Task(op) => op,
        _ => return Ok(me(&user)),
    };
    if op.is_write() {
        limit_writes(
            env,
            user.user_id(),
            state.config.limits.write_limit_period_seconds,
        )
        .await?;
    }
    let content_type = header(req, "content-type");
    let condition = op.condition_header().and_then(|name| header(req, name));
    let body = match body_read(op.body(), content_type.as_deref())? {
        BodyRead::Skip => Vec::new(),
        BodyRead::Read => read_request_body(req).await?,
    };
    let request = TaskRequest {
        op,
        path_user: route.path_user,
        task_id: route.task_id,
        path: route.path,
        query: route.query,
        content_type: content_type.as_deref(),
        body: &body,
        condition: condition.as_deref(),
        quota: state.config.limits.tasks_per_user_max,
    };
    let trip = plan(&user, &request)?;
    let started = js_sys::Date::now();
    let outcome = state
        .db
        .run(
            &user,
            trip.housekeeping.as_ref(),
            &trip.statement,
            trip.access,
            trip.serialize,
        )
        .await;
    timing.db_ms = Some(js_sys::Date::now() - started);
    finish(trip.then, outcome)
}

/// The per-user write limit (`WRITE_LIMITER`), checked after authentication and
/// before the body is read or the database is called: an over-eager client costs one
/// binding call, nothing more. Without the binding, writes are unlimited, which the
/// log says once per isolate.
async fn limit_writes(env: &Env, user_id: &str, period_seconds: u32) -> Result<(), ApiError> {
    let Ok(limiter) = env.rate_limiter(WRITE_LIMITER) else {
        if !UNLIMITED_LOGGED.replace(true) {
            worker::console_warn!("WRITE_LIMITER is not bound: writes are not rate-limited");
        }
        return Ok(());
    };
    let outcome = limiter
        .limit(user_id.to_string())
        .await
        .map_err(|e| ApiError::Internal(format!("WRITE_LIMITER failed: {e}")))?;
    if outcome.success {
        Ok(())
    } else {
        Err(ApiError::TooManyRequests {
            retry_after: period_seconds,
        })
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// `OPTIONS`: never needs a token. A known path answers 204 with `Allow`, plus the
/// CORS preflight headers when an allowed origin asks.
fn preflight(
    req: &Request,
    path: &str,
    origin: Option<&str>,
    state: &Result<Rc<AppState>, ApiError>,
) -> (&'static str, Result<Reply, ApiError>) {
    let Some(found) = routes::find(path) else {
        return ("<unmatched>", Err(ApiError::NotFound));
    };
    let resource = found.resource;
    let allow = resource.allow();
    let mut reply = Reply::empty(204).with_header("allow", allow.clone());
    if let Ok(state) = state {
        let allowlist = &state.config.cors_allowed_origins;
        if header(req, "access-control-request-method").is_some() {
            reply
                .headers
                .extend(cors::preflight_headers(allowlist, origin, &allow));
        } else {
            reply
                .headers
                .extend(cors::response_headers(allowlist, None));
        }
    }
    (resource.pattern, Ok(reply))
}

/// The request body, at most `MAX_BODY_BYTES` (413 beyond, enforced while reading so a
/// huge body is never buffered).
async fn read_request_body(req: &Request) -> Result<Vec<u8>, ApiError> {
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let declared = header(req, "content-length");
    read_capped(
        ByteStream::from(stream),
        declared.as_deref(),
        MAX_BODY_BYTES,
    )
    .await
    .map_err(|e| match e {
        ReadError::TooLarge => ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        },
        ReadError::Failed(_) => ApiError::BadRequest("The body could not be read.".into()),
    })
}

/// Why a capped read stopped.
#[derive(Debug)]
pub enum ReadError {
    TooLarge,
    /// The stream failed; the text is for the log.
    Failed(String),
}

/// Reads a body stream up to `limit` bytes: refused at once when `Content-Length`
/// already says more, otherwise as soon as the bytes read pass the limit, so nothing
/// larger is ever held in memory.
pub async fn read_capped(
    mut stream: ByteStream,
    content_length: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if content_length
        .and_then(|l| l.parse::<usize>().ok())
        .is_some_and(|l| l > limit)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ReadError::Failed(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Runs `work` until it finishes or `limit` passes (`None`). The loser is dropped,
/// which for a fetch aborts it. Our own timer rather than a library's timeout, so a
/// timeout is known as one (callers do not retry it).
pub async fn with_deadline<F: Future>(work: F, limit: Duration) -> Option<F::Output> {
    let deadline = worker::Delay::from(limit);
    futures_util::pin_mut!(work);
    match select(work, deadline).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(_) => None,
    }
}

/// One line when an isolate serves its first request, so restarts (including the
/// runtime's silent recovery after a crash) can be counted from the logs.
fn log_isolate_start() {
    let mut id = [0u8; 4];
    let isolate = match getrandom::fill(&mut id) {
        Ok(()) => id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => "unknown".into(),
    };
    worker::console_log!(r#"{{"event":"isolate_start","isolate":"{isolate}"}}"#);
}

/// One JSON line per request. Deliberately built from a fixed set of fields: no
/// header, body, query string or token can reach the log by accident. Written with
/// `format!` rather than a `serde_json::Value`, since it runs on every request.
fn log_request(
    method: &str,
    route: &str,
    status: u16,
    started: f64,
    ray: Option<String>,
    reason: Option<String>,
) {
    let text = |v: Option<&str>| v.map_or_else(|| "null".to_string(), json_string);
    worker::console_log!(
        r#"{{"method":{},"route":{},"status":{status},"duration_ms":{},"cf_ray":{},"reason":{}}}"#,
        json_string(method),
        json_string(route),
        js_sys::Date::now() - started,
        text(ray.as_deref()),
        text(reason.as_deref()),
    );
}

fn json_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
