//! The route table and a pure router over it.
//!
//! A route is either `Public` or `Protected`, decided here and nowhere else. The
//! dispatcher can only reach a protected handler through authentication (it needs a
//! `UserScope`), so adding a route means choosing its side in this file, and the
//! default for anything under `/api` is protected.

/// Every path the API serves, with its methods. The OpenAPI test checks the document
/// against this table, so the two cannot drift apart.
pub const RESOURCES: &[Resource] = &[
    Resource::new(Shape::Health, "/health", &["GET"]),
    Resource::new(Shape::OpenApi, "/openapi.json", &["GET"]),
    Resource::new(Shape::Me, "/api/me", &["GET"]),
    Resource::new(Shape::Tasks, "/api/tasks", &["GET", "POST"]),
    Resource::new(
        Shape::Task,
        "/api/tasks/{id}",
        &["GET", "PUT", "PATCH", "DELETE"],
    ),
    Resource::new(Shape::Complete, "/api/tasks/{id}/complete", &["PATCH"]),
    Resource::new(Shape::Tasks, "/api/{user_id}/tasks", &["GET", "POST"]),
    Resource::new(
        Shape::Task,
        "/api/{user_id}/tasks/{id}",
        &["GET", "PUT", "PATCH", "DELETE"],
    ),
    Resource::new(
        Shape::Complete,
        "/api/{user_id}/tasks/{id}/complete",
        &["PATCH"],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Health,
    OpenApi,
    Me,
    Tasks,
    Task,
    Complete,
}

#[derive(Debug, Clone, Copy)]
pub struct Resource {
    shape: Shape,
    /// The path template, also the `route` field of the request log.
    pub pattern: &'static str,
    pub methods: &'static [&'static str],
}

impl Resource {
    const fn new(shape: Shape, pattern: &'static str, methods: &'static [&'static str]) -> Self {
        Self {
            shape,
            pattern,
            methods,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Public(PublicRoute),
    Protected(ProtectedRoute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicRoute {
    Health,
    OpenApi,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectedRoute {
    Me,
    Tasks {
        /// The `{user_id}` of the frontend's path form, percent-decoded; it must equal
        /// the token's `sub`.
        path_user: Option<String>,
        op: TaskOp,
    },
}

/// Task ids stay raw text here: the handler decides that a malformed id is simply a
/// task that does not exist (404), like any other unknown id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOp {
    List,
    Create,
    Get(String),
    Replace(String),
    Patch(String),
    Toggle(String),
    Delete(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub pattern: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed {
        pattern: &'static str,
        allow: &'static [&'static str],
    },
}

/// Finds the resource a path names, with the captured `{user_id}` and `{id}`.
pub fn find_resource(path: &str) -> Option<(&'static Resource, Option<String>, Option<String>)> {
    let rest = path.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    let by_pattern = |p: &str| RESOURCES.iter().find(|r| r.pattern == p);
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    // Literal segments win over captures: `/api/tasks/7` is task 7, never the task
    // list of a user called "tasks".
    let (pattern, user, id) = match segments.as_slice() {
        ["health"] => ("/health", None, None),
        ["openapi.json"] => ("/openapi.json", None, None),
        ["api", "me"] => ("/api/me", None, None),
        ["api", "tasks"] => ("/api/tasks", None, None),
        ["api", "tasks", id] => ("/api/tasks/{id}", None, Some(*id)),
        ["api", "tasks", id, "complete"] => ("/api/tasks/{id}/complete", None, Some(*id)),
        ["api", user, "tasks"] => ("/api/{user_id}/tasks", Some(*user), None),
        ["api", user, "tasks", id] => ("/api/{user_id}/tasks/{id}", Some(*user), Some(*id)),
        ["api", user, "tasks", id, "complete"] => {
            ("/api/{user_id}/tasks/{id}/complete", Some(*user), Some(*id))
        }
        _ => return None,
    };
    let user = match user {
        Some(u) => Some(decode(u)?),
        None => None,
    };
    Some((by_pattern(pattern)?, user, id.map(str::to_string)))
}

/// The path of a serialized request URL (`https://host/path?query`): the runtime
/// hands us a normalized absolute URL, so the path starts at the first `/` after
/// the authority and ends at `?` or `#`.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// The query string of a serialized URL, without parsing the whole URL again.
pub fn query_of(url: &str) -> Option<&str> {
    let without_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    without_fragment.split_once('?').map(|(_, q)| q)
}

pub fn resolve(method: &str, path: &str) -> Result<Matched, RouteError> {
    let (resource, path_user, id) = find_resource(path).ok_or(RouteError::NotFound)?;
    if !resource.methods.contains(&method) {
        return Err(RouteError::MethodNotAllowed {
            pattern: resource.pattern,
            allow: resource.methods,
        });
    }
    let id = || id.clone().unwrap_or_default();
    let tasks = |op| {
        Route::Protected(ProtectedRoute::Tasks {
            path_user: path_user.clone(),
            op,
        })
    };
    let route = match (resource.shape, method) {
        (Shape::Health, _) => Route::Public(PublicRoute::Health),
        (Shape::OpenApi, _) => Route::Public(PublicRoute::OpenApi),
        (Shape::Me, _) => Route::Protected(ProtectedRoute::Me),
        (Shape::Tasks, "GET") => tasks(TaskOp::List),
        (Shape::Tasks, _) => tasks(TaskOp::Create),
        (Shape::Task, "GET") => tasks(TaskOp::Get(id())),
        (Shape::Task, "PUT") => tasks(TaskOp::Replace(id())),
        (Shape::Task, "PATCH") => tasks(TaskOp::Patch(id())),
        (Shape::Task, _) => tasks(TaskOp::Delete(id())),
        (Shape::Complete, _) => tasks(TaskOp::Toggle(id())),
    };
    Ok(Matched {
        route,
        pattern: resource.pattern,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        resolve(method, path).unwrap().route
    }

    #[test]
    fn public_routes_are_exactly_health_and_openapi() {
        for resource in RESOURCES {
            let path = resource
                .pattern
                .replace("{user_id}", "u1")
                .replace("{id}", "1");
            for method in resource.methods {
                let public = matches!(route(method, &path), Route::Public(_));
                let expected = matches!(resource.pattern, "/health" | "/openapi.json");
                assert_eq!(public, expected, "{method} {path}");
            }
        }
    }

    #[test]
    fn both_path_forms_reach_the_same_operation() {
        assert_eq!(
            route("PATCH", "/api/tasks/42/complete"),
            Route::Protected(ProtectedRoute::Tasks {
                path_user: None,
                op: TaskOp::Toggle("42".into())
            })
        );
        assert_eq!(
            route("PATCH", "/api/user%20one/tasks/42/complete"),
            Route::Protected(ProtectedRoute::Tasks {
                path_user: Some("user one".into()),
                op: TaskOp::Toggle("42".into())
            })
        );
        assert_eq!(
            route("DELETE", "/api/u1/tasks/x"),
            Route::Protected(ProtectedRoute::Tasks {
                path_user: Some("u1".into()),
                op: TaskOp::Delete("x".into())
            })
        );
    }

    #[test]
    fn literal_segments_win() {
        assert_eq!(
            route("GET", "/api/tasks/tasks"),
            Route::Protected(ProtectedRoute::Tasks {
                path_user: None,
                op: TaskOp::Get("tasks".into())
            })
        );
        assert_eq!(
            route("GET", "/api/me"),
            Route::Protected(ProtectedRoute::Me)
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "",
            "/",
            "/api",
            "/api/",
            "/api/tasks/",
            "//health",
            "/health/",
            "/api/me/x",
            "/api/u/tasks/1/complete/x",
            "/api/%FF/tasks",
            "/HEALTH",
        ] {
            assert_eq!(resolve("GET", path), Err(RouteError::NotFound), "{path:?}");
        }
    }

    #[test]
    fn path_and_query_of_a_request_url() {
        assert_eq!(
            path_of("https://api.example.com/api/tasks?limit=5#x"),
            "/api/tasks"
        );
        assert_eq!(path_of("http://127.0.0.1:8787/health"), "/health");
        assert_eq!(path_of("https://api.example.com"), "/");
        assert_eq!(path_of("https://api.example.com?x=1"), "/");
        assert_eq!(
            query_of("https://h/api/tasks?limit=5&q=a#frag"),
            Some("limit=5&q=a")
        );
        assert_eq!(query_of("https://h/api/tasks#q?x"), None);
        assert_eq!(query_of("https://h/api/tasks"), None);
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        assert_eq!(
            resolve("DELETE", "/api/tasks"),
            Err(RouteError::MethodNotAllowed {
                pattern: "/api/tasks",
                allow: &["GET", "POST"]
            })
        );
        assert!(matches!(
            resolve("POST", "/health"),
            Err(RouteError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            resolve("get", "/health"),
            Err(RouteError::MethodNotAllowed { .. })
        ));
    }
}
