//! Request flow inside workerd: route → configuration → (authentication) → handler,
//! then one structured log line.

use std::cell::OnceCell;
use std::rc::Rc;

use serde_json::json;
use worker::{Env, Request, Response};

use super::routes::{resolve, ProtectedRoute, PublicRoute, Route, RouteError};
use crate::auth::{authenticate, UserScope};
use crate::config::{Config, ConfigError};
use crate::db::client::NeonClient;
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
            let config = Config::load(|name| {
                env.secret(name)
                    .map(|s| s.to_string())
                    .or_else(|_| env.var(name).map(|v| v.to_string()))
                    .ok()
            })?;
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

pub async fn handle(req: Request, env: Env) -> worker::Result<Response> {
    let started = js_sys::Date::now();
    let method = req.method().to_string();
    let path = req.path();
    let (pattern, outcome) = match resolve(&method, &path) {
        Ok(matched) => (matched.pattern, dispatch(matched.route, &req, &env).await),
        Err(RouteError::NotFound) => ("<unmatched>", Err(ApiError::NotFound)),
        Err(RouteError::MethodNotAllowed { pattern, allow }) => {
            (pattern, Err(ApiError::MethodNotAllowed { allow }))
        }
    };
    let (reply, reason) = match outcome {
        Ok(reply) => (reply, None),
        Err(err) => (Reply::from(&err), err.log_reason()),
    };
    log_request(&req, &method, pattern, reply.status, started, reason);
    reply.into_response()
}

async fn dispatch(route: Route, req: &Request, env: &Env) -> Result<Reply, ApiError> {
    match route {
        Route::Public(PublicRoute::Health) => Ok(Reply::json(200, &json!({"status": "ok"}))),
        Route::Public(PublicRoute::OpenApi) => Err(ApiError::NotFound),
        Route::Protected(route) => {
            let state = load_state(env)?;
            dispatch_protected(route, req, &state).await
        }
    }
}

/// The only way to a protected handler: a `UserScope` from a verified token.
async fn dispatch_protected(
    route: ProtectedRoute,
    req: &Request,
    state: &AppState,
) -> Result<Reply, ApiError> {
    let user = authenticate(req, &state.config.auth).await?;
    match route {
        ProtectedRoute::Me => Ok(me(&user)),
        ProtectedRoute::Tasks { .. } => Err(ApiError::NotFound),
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

/// One JSON line per request. Deliberately built from a fixed set of fields: no
/// header, body, query string or token can reach the log by accident.
fn log_request(
    req: &Request,
    method: &str,
    route: &str,
    status: u16,
    started: f64,
    reason: Option<String>,
) {
    let ray = req.headers().get("cf-ray").ok().flatten();
    let line = json!({
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": js_sys::Date::now() - started,
        "cf_ray": ray,
        "reason": reason,
    });
    worker::console_log!("{line}");
}
