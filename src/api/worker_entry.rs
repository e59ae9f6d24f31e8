//! Request flow inside workerd: route → configuration → (authentication) → handler,
//! then CORS headers and one structured log line.

use std::cell::OnceCell;
use std::rc::Rc;

use futures_util::StreamExt;
use serde_json::{json, Map, Value as Json};
use web_sys::Request;
use worker::{ByteStream, Env};

use super::routes::{
    find_resource, path_of, query_of, resolve, ProtectedRoute, PublicRoute, Route, RouteError,
    TaskOp,
};
use super::{cors, input, openapi};
use crate::auth::{authenticate, UserScope};
use crate::config::{Config, ConfigError};
use crate::db::client::NeonClient;
use crate::db::tasks::TaskStore;
use crate::error::ApiError;
use crate::http::Reply;

/// What an isolate builds once and every request then shares.
pub struct AppState {
    pub config: Config,
    pub db: NeonClient,
}

thread_local! {
    // Workers run one isolate per thread; configuration cannot change within an
    // isolate, so it is loaded and validated once, on the first request.
    static STATE: OnceCell<Result<Rc<AppState>, ConfigError>> = const { OnceCell::new() };
}

fn load_state(env: &Env) -> Result<Rc<AppState>, ApiError> {
    let loaded = STATE.with(|cell| {
        cell.get_or_init(|| {
            // Secrets and vars are the same property on `env`; where one was declared
            // comes from the build's wrangler.toml (see `declared_source`).
            let config = Config::load(|name| {
                let value = env.var(name).ok()?.to_string();
                Some((value, crate::config::declared_source(name)))
            })?;
            for warning in &config.warnings {
                worker::console_warn!("configuration: {warning}");
            }
            let db = NeonClient::new(&config.database).map_err(|_| ConfigError {
                variable: "DATABASE_URL",
                reason: "cannot be sent as a header".into(),
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

pub async fn handle(req: Request, env: Env) -> worker::Result<web_sys::Response> {
    let started = js_sys::Date::now();
    let method = req.method();
    let url = req.url();
    let path = path_of(&url);
    let origin = header(&req, "origin");
    let ray = header(&req, "cf-ray");
    // Public routes answer even when configuration is broken; protected ones turn
    // the error into their 500.
    let state = load_state(&env);

    let (pattern, outcome) = if method == "OPTIONS" {
        preflight(&req, path, origin.as_deref(), &state)
    } else {
        match resolve(&method, path) {
            Ok(matched) => (
                matched.pattern,
                dispatch(matched.route, &req, path, query_of(&url), &state).await,
            ),
            Err(RouteError::NotFound) => ("<unmatched>", Err(ApiError::NotFound)),
            Err(RouteError::MethodNotAllowed { pattern, allow }) => {
                (pattern, Err(ApiError::MethodNotAllowed { allow }))
            }
        }
    };
    let (mut reply, reason) = match outcome {
        Ok(reply) => (reply, None),
        Err(err) => (Reply::from(&err), err.log_reason()),
    };
    if method != "OPTIONS" {
        // Errors get CORS headers too, or a browser app could not read why it failed.
        if let Some(allowed) = cors_origin(&state, origin.as_deref()) {
            reply.headers.extend(cors::response_headers(&allowed));
        }
    }
    log_request(&method, pattern, reply.status, started, ray, reason);
    Ok(reply.into_response()?)
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn cors_origin(state: &Result<Rc<AppState>, ApiError>, origin: Option<&str>) -> Option<String> {
    let state = state.as_ref().ok()?;
    cors::allowed(&state.config.cors_allowed_origins, origin).map(str::to_string)
}

/// `OPTIONS`: never needs a token. A known path answers 204 with `Allow`, plus the
/// CORS preflight headers when an allowed origin asks.
fn preflight(
    req: &Request,
    path: &str,
    origin: Option<&str>,
    state: &Result<Rc<AppState>, ApiError>,
) -> (&'static str, Result<Reply, ApiError>) {
    let Some((resource, _, _)) = find_resource(path) else {
        return ("<unmatched>", Err(ApiError::NotFound));
    };
    let mut reply = Reply::empty(204).with_header("allow", resource.methods.join(", "));
    let asks = header(req, "access-control-request-method").is_some();
    if asks {
        if let Some(allowed) = cors_origin(state, origin) {
            reply
                .headers
                .extend(cors::preflight_headers(&allowed, resource.methods));
        }
    }
    (resource.pattern, Ok(reply))
}

async fn dispatch(
    route: Route,
    req: &Request,
    path: &str,
    query: Option<&str>,
    state: &Result<Rc<AppState>, ApiError>,
) -> Result<Reply, ApiError> {
    match route {
        Route::Public(PublicRoute::Health) => Ok(Reply::json(200, &json!({"status": "ok"}))),
        Route::Public(PublicRoute::OpenApi) => Ok(openapi::reply()),
        Route::Protected(route) => {
            let state = state.as_ref().map_err(Clone::clone)?;
            // The only way to a protected handler: a `UserScope` from a verified token.
            let user = authenticate(req, &state.config.auth).await?;
            protected(route, &user, req, path, query, state).await
        }
    }
}

async fn protected(
    route: ProtectedRoute,
    user: &UserScope,
    req: &Request,
    path: &str,
    query: Option<&str>,
    state: &AppState,
) -> Result<Reply, ApiError> {
    let (path_user, op) = match route {
        ProtectedRoute::Me => return Ok(me(user)),
        ProtectedRoute::Tasks { path_user, op } => (path_user, op),
    };
    // The frontend's `/api/{user_id}/tasks…` form: the path may only name the caller.
    if path_user.is_some_and(|u| u != user.user_id()) {
        return Err(ApiError::Forbidden);
    }
    let store = TaskStore { db: &state.db };
    // A malformed id names no task: 404, like an unknown one, without a round trip.
    let id = |raw: &str| input::parse_task_id(raw).ok_or(ApiError::NotFound);
    let found = |task: Option<_>| task.map(|t| Reply::json(200, &t)).ok_or(ApiError::NotFound);
    match op {
        TaskOp::List => {
            let query = input::list_query(query)?;
            let (tasks, more) = store.list(user, &query).await?;
            let mut reply = Reply::json(200, &tasks);
            if let (true, Some(last)) = (more, tasks.last()) {
                let cursor = input::encode_cursor(&query, last);
                reply = reply.with_header("link", input::next_link(path, &query, &cursor));
            }
            Ok(reply)
        }
        TaskOp::Create => {
            let task = input::new_task(json_body(req).await?)?;
            let created = store.create(user, &task).await?;
            let location = format!("/api/tasks/{}", created.id);
            Ok(Reply::json(201, &created).with_header("location", location))
        }
        TaskOp::Get(raw) => found(store.get(user, id(&raw)?).await?),
        TaskOp::Replace(raw) => {
            let id = id(&raw)?;
            let task = input::replacement(json_body(req).await?)?;
            found(store.replace(user, id, &task).await?)
        }
        TaskOp::Patch(raw) => {
            let id = id(&raw)?;
            let patch = input::patch(json_body(req).await?)?;
            found(store.patch(user, id, &patch).await?)
        }
        TaskOp::Toggle(raw) => {
            let id = id(&raw)?;
            match optional_json_body(req).await? {
                None => found(store.toggle(user, id).await?),
                Some(body) => {
                    let completed = input::completion(body)?;
                    found(store.set_completed(user, id, completed).await?)
                }
            }
        }
        TaskOp::Delete(raw) => match store.delete(user, id(&raw)?).await? {
            true => Ok(Reply::empty(204)),
            false => Err(ApiError::NotFound),
        },
    }
}

fn me(user: &UserScope) -> Reply {
    let mut body = json!({ "user_id": user.user_id() });
    if let Some(email) = user.email() {
        body["email"] = email.into();
    }
    if let Some(name) = user.name() {
        body["name"] = name.into();
    }
    Reply::json(200, &body)
}

/// A JSON object body: JSON media type (415), at most 16 KiB (413, enforced while
/// reading so a huge body is never buffered), well-formed (400), an object (422).
async fn json_body(req: &Request) -> Result<Map<String, Json>, ApiError> {
    if !input::is_json_media_type(header(req, "content-type").as_deref()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    input::parse_object(&read_body(req).await?)
}

/// For the toggle route, whose body is optional: no body (or an empty one) is `None`.
async fn optional_json_body(req: &Request) -> Result<Option<Map<String, Json>>, ApiError> {
    let bytes = read_body(req).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if !input::is_json_media_type(header(req, "content-type").as_deref()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    input::parse_object(&bytes).map(Some)
}

async fn read_body(req: &Request) -> Result<Vec<u8>, ApiError> {
    let too_large = ApiError::PayloadTooLarge {
        limit: input::MAX_BODY_BYTES,
    };
    let declared = header(req, "content-length");
    if declared
        .and_then(|l| l.parse::<usize>().ok())
        .is_some_and(|l| l > input::MAX_BODY_BYTES)
    {
        return Err(too_large);
    }
    let Some(body) = req.body() else {
        return Ok(Vec::new());
    };
    let mut stream = ByteStream::from(body);
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::BadRequest("The body could not be read.".into()))?;
        if body.len() + chunk.len() > input::MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
