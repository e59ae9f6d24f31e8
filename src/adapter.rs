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
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use web_sys::{Headers, Request};
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
    // isolate, so it is loaded and validated once: the CORS allowlist on the first
    // request, everything else on the first protected one. A fresh isolate's first
    // `/health` thus parses no URL and builds no client.
    static STARTED: Cell<bool> = const { Cell::new(false) };
    static CORS_ALLOWLIST: OnceCell<Rc<[String]>> = const { OnceCell::new() };
    static STATE: OnceCell<Result<Rc<AppState>, ConfigError>> = const { OnceCell::new() };
    static UNLIMITED_LOGGED: Cell<bool> = const { Cell::new(false) };
}

/// The Workers Rate Limiting binding that limits each user's writes.
const WRITE_LIMITER: &str = "WRITE_LIMITER";

/// A variable (var or secret: the same property on `env`) with where it was declared,
/// which comes from the build's wrangler.toml (see `declared_source`).
fn lookup(env: &Env, name: &str) -> Option<(String, crate::config::Source)> {
    let value = env.var(name).ok()?.to_string();
    Some((value, crate::config::declared_source(name)))
}

/// The origins allowed to read responses, for every route. Invalid, it allows none
/// here, and protected routes answer 500 naming it (`Config::load` checks it too).
fn cors_allowlist(env: &Env) -> Rc<[String]> {
    CORS_ALLOWLIST.with(|cell| {
        cell.get_or_init(|| {
            crate::config::cors_allowed_origins(|name| lookup(env, name))
                .unwrap_or_default()
                .into()
        })
        .clone()
    })
}

fn load_state(env: &Env) -> Result<Rc<AppState>, ApiError> {
    let loaded = STATE.with(|cell| {
        cell.get_or_init(|| {
            let config = Config::load(|name| lookup(env, name))?;
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
    // One `Headers` object for the whole request: each `req.headers()` is a crossing
    // that makes a new one.
    let headers = req.headers();
    let origin = header(&headers, "origin");
    if !STARTED.replace(true) {
        log_isolate_start();
    }
    let allowlist = cors_allowlist(&env);
    let mut timing = Timing::default();

    let (pattern, outcome) = if method == "OPTIONS" {
        preflight(&headers, path, origin.as_deref(), &allowlist)
    } else {
        match resolve(&method, path) {
            Ok(matched) => {
                let outcome = match matched.op {
                    Op::Health => Ok(Reply::json_bytes(200, br#"{"status":"ok"}"#.to_vec())),
                    Op::OpenApi => Ok(openapi::reply()),
                    op => {
                        let request = Protected {
                            op,
                            path_user: matched.user_id.as_deref(),
                            task_id: matched.task_id,
                            path,
                            query: query_of(&url),
                        };
                        opaque(Box::pin(protected(
                            &req,
                            &headers,
                            &env,
                            ctx,
                            request,
                            &mut timing,
                        )))
                        .await
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
        reply
            .headers
            .extend(cors::response_headers(&allowlist, origin.as_deref()));
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
        header(&headers, "cf-ray"),
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
    headers: &Headers,
    env: &Env,
    ctx: &Context,
    route: Protected<'_>,
    timing: &mut Timing,
) -> Result<Reply, ApiError> {
    // Public routes answer even when configuration is broken; protected ones turn
    // the error into their 500.
    let state = load_state(env)?;
    // The only way to a protected handler: a `UserScope` from a verified token.
    let started = js_sys::Date::now();
    let user = authenticate(req, &state.config.auth, ctx).await;
    timing.auth_ms = Some(js_sys::Date::now() - started);
    let user = user?;
    let op = match route.op {
        Op::Task(op) => op,
        _ => return Ok(me(&user)),
    };
    opaque(Box::pin(task_request(
        req, headers, env, route, &state, timing, user, op,
    )))
    .await
}

type Answer<'a> = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + 'a>>;

/// A boxed future the optimizer cannot see into, so its code stays a function of its
/// own instead of being inlined into the caller's: a fresh isolate compiles each wasm
/// function on its first call, and `/health` then need not compile the whole API, nor
/// `/api/me` the task handlers.
fn opaque(work: Answer<'_>) -> Answer<'_> {
    std::hint::black_box(work)
}

#[allow(clippy::too_many_arguments)]
async fn task_request(
    req: &Request,
    headers: &Headers,
    env: &Env,
    route: Protected<'_>,
    state: &AppState,
    timing: &mut Timing,
    user: crate::auth::UserScope,
    op: crate::tasks::TaskOp,
) -> Result<Reply, ApiError> {
    if op.is_write() {
        limit_writes(
            env,
            user.user_id(),
            state.config.limits.write_limit_period_seconds,
        )
        .await?;
    }
    let content_type = header(headers, "content-type");
    let condition = op.condition_header().and_then(|name| header(headers, name));
    let body = match body_read(op.body(), content_type.as_deref())? {
        BodyRead::Skip => Vec::new(),
        BodyRead::Read => read_request_body(req, headers).await?,
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
    // Bindings cannot change within an isolate: once the binding was found missing,
    // later writes skip the lookup (and the error it builds).
    if UNLIMITED_LOGGED.get() {
        return Ok(());
    }
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

fn header(headers: &Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// `OPTIONS`: never needs a token. A known path answers 204 with `Allow`, plus the
/// CORS preflight headers when an allowed origin asks.
fn preflight(
    headers: &Headers,
    path: &str,
    origin: Option<&str>,
    allowlist: &[String],
) -> (&'static str, Result<Reply, ApiError>) {
    let Some(found) = routes::find(path) else {
        return ("<unmatched>", Err(ApiError::NotFound));
    };
    let resource = found.resource;
    let allow = resource.allow();
    let mut reply = Reply::empty(204).with_header("allow", allow.clone());
    if header(headers, "access-control-request-method").is_some() {
        reply
            .headers
            .extend(cors::preflight_headers(allowlist, origin, &allow));
    } else {
        reply
            .headers
            .extend(cors::response_headers(allowlist, None));
    }
    (resource.pattern, Ok(reply))
}

/// The request body, at most `MAX_BODY_BYTES` (413 beyond, enforced while reading so a
/// huge body is never buffered).
async fn read_request_body(req: &Request, headers: &Headers) -> Result<Vec<u8>, ApiError> {
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let declared = header(headers, "content-length");
    let too_large = ApiError::PayloadTooLarge {
        limit: MAX_BODY_BYTES,
    };
    let unreadable = || ApiError::BadRequest("The body could not be read.".into());
    // With a declared length within the limit, the runtime reads the body in one call
    // (it refuses a body longer than its Content-Length), instead of a reader and a
    // promise per chunk. Without one (chunked), the capped stream read below.
    if let Some(length) = declared.as_deref().and_then(|l| l.parse::<usize>().ok()) {
        if length > MAX_BODY_BYTES {
            return Err(too_large);
        }
        let promise = req.array_buffer().map_err(|_| unreadable())?;
        let buffer = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|_| unreadable())?;
        let bytes = js_sys::Uint8Array::new(&buffer);
        if bytes.length() as usize > MAX_BODY_BYTES {
            return Err(too_large);
        }
        return Ok(bytes.to_vec());
    }
    read_capped(ByteStream::from(stream), None, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge => too_large,
            ReadError::Failed(_) => unreadable(),
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
/// header, body, query string or token can reach the log by accident. Written into one
/// buffer rather than through a `serde_json::Value`, since it runs on every request.
fn log_request(
    method: &str,
    route: &str,
    status: u16,
    started: f64,
    ray: Option<String>,
    reason: Option<String>,
) {
    use std::fmt::Write;
    let mut line = String::with_capacity(160);
    line.push_str(r#"{"method":"#);
    push_json(&mut line, Some(method));
    line.push_str(r#","route":"#);
    push_json(&mut line, Some(route));
    // `Date.now()` counts whole milliseconds, so the span is a whole number: written
    // as an integer (the same text `f64`'s `Display` gives), which keeps float
    // formatting — 14 KB of wasm, compiled on first use — out of every request.
    let duration_ms = (js_sys::Date::now() - started).max(0.0) as u64;
    let _ = write!(
        line,
        r#","status":{status},"duration_ms":{duration_ms},"cf_ray":"#
    );
    push_json(&mut line, ray.as_deref());
    line.push_str(r#","reason":"#);
    push_json(&mut line, reason.as_deref());
    line.push('}');
    web_sys::console::log_1(&line.into());
}

/// Appends a JSON string (or `null`), escaped by serde_json.
fn push_json(line: &mut String, value: Option<&str>) {
    match value.and_then(|v| serde_json::to_string(v).ok()) {
        Some(text) => line.push_str(&text),
        None => line.push_str("null"),
    }
}
