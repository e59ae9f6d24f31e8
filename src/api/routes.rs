//! The route table and a pure router over it.
//!
//! `RESOURCES` is the one description of what the API serves: matching, `Allow`, the
//! OpenAPI parity test and the public/protected split are all derived from it. An
//! operation is public only if `Op::is_public` says so; the adapter can reach every
//! other one only through authentication (it needs a `UserScope`), so a new route is
//! protected unless it is deliberately added to that list.

use crate::tasks::TaskOp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    Me,
    Task(TaskOp),
}

impl Op {
    /// Answered without a token. Everything else is protected.
    pub fn is_public(self) -> bool {
        matches!(self, Op::Health | Op::OpenApi)
    }
}

/// A path template (`{user_id}` and `{id}` capture one segment) and what each method
/// does there.
#[derive(Debug)]
pub struct Resource {
    /// Also the `route` field of the request log.
    pub pattern: &'static str,
    pub ops: &'static [(&'static str, Op)],
}

impl Resource {
    /// The `Allow` header value.
    pub fn allow(&self) -> String {
        let methods: Vec<&str> = self.ops.iter().map(|(m, _)| *m).collect();
        methods.join(", ")
    }
}

const TASKS: &[(&str, Op)] = &[
    ("GET", Op::Task(TaskOp::List)),
    ("POST", Op::Task(TaskOp::Create)),
];
const TASK: &[(&str, Op)] = &[
    ("GET", Op::Task(TaskOp::Get)),
    ("PUT", Op::Task(TaskOp::Replace)),
    ("PATCH", Op::Task(TaskOp::Patch)),
    ("DELETE", Op::Task(TaskOp::Delete)),
];
const COMPLETE: &[(&str, Op)] = &[("PATCH", Op::Task(TaskOp::Complete))];

/// Every path the API serves. Order matters: the first template that fits wins, so
/// literal segments come first — `/api/tasks/7` is task 7, never the task list of a
/// user called "tasks". The `/api/{user_id}/…` forms are the frontend's; there the
/// user must be the caller (checked by the task handlers).
pub const RESOURCES: &[Resource] = &[
    Resource {
        pattern: "/health",
        ops: &[("GET", Op::Health)],
    },
    Resource {
        pattern: "/openapi.json",
        ops: &[("GET", Op::OpenApi)],
    },
    Resource {
        pattern: "/api/me",
        ops: &[("GET", Op::Me)],
    },
    Resource {
        pattern: "/api/tasks",
        ops: TASKS,
    },
    Resource {
        pattern: "/api/tasks/{id}",
        ops: TASK,
    },
    Resource {
        pattern: "/api/tasks/{id}/complete",
        ops: COMPLETE,
    },
    Resource {
        pattern: "/api/{user_id}/tasks",
        ops: TASKS,
    },
    Resource {
        pattern: "/api/{user_id}/tasks/{id}",
        ops: TASK,
    },
    Resource {
        pattern: "/api/{user_id}/tasks/{id}/complete",
        ops: COMPLETE,
    },
];

/// A path matched to its resource, with the captured segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch<'p> {
    pub resource: &'static Resource,
    /// `{user_id}`, percent-decoded.
    pub user_id: Option<String>,
    /// `{id}` as sent: the handler decides that a malformed id is simply a task that
    /// does not exist (404), like any other unknown id.
    pub task_id: Option<&'p str>,
}

impl PartialEq for Resource {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Resource {}

/// An operation to run, with what the path captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'p> {
    pub op: Op,
    pub pattern: &'static str,
    pub user_id: Option<String>,
    pub task_id: Option<&'p str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    MethodNotAllowed {
        pattern: &'static str,
        allow: String,
    },
}

/// Finds the resource a path names. Empty segments (`//`, a trailing `/`) name nothing.
pub fn find(path: &str) -> Option<PathMatch<'_>> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    RESOURCES.iter().find_map(|resource| {
        let template: Vec<&str> = resource.pattern[1..].split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut found = PathMatch {
            resource,
            user_id: None,
            task_id: None,
        };
        for (part, segment) in template.iter().zip(&segments) {
            match *part {
                "{user_id}" => {
                    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8();
                    found.user_id = Some(decoded.ok()?.into_owned());
                }
                "{id}" => found.task_id = Some(segment),
                literal if literal == *segment => {}
                _ => return None,
            }
        }
        Some(found)
    })
}

pub fn resolve<'p>(method: &str, path: &'p str) -> Result<Matched<'p>, RouteError> {
    let found = find(path).ok_or(RouteError::NotFound)?;
    let resource = found.resource;
    let (_, op) = resource
        .ops
        .iter()
        .find(|(m, _)| *m == method)
        .ok_or_else(|| RouteError::MethodNotAllowed {
            pattern: resource.pattern,
            allow: resource.allow(),
        })?;
    Ok(Matched {
        op: *op,
        pattern: resource.pattern,
        user_id: found.user_id,
        task_id: found.task_id,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(method: &str, path: &'static str) -> Matched<'static> {
        resolve(method, path).unwrap()
    }

    #[test]
    fn public_routes_are_exactly_health_and_openapi() {
        for resource in RESOURCES {
            let path = resource
                .pattern
                .replace("{user_id}", "u1")
                .replace("{id}", "1");
            for (method, _) in resource.ops {
                let public = resolve(method, &path).unwrap().op.is_public();
                let expected = matches!(resource.pattern, "/health" | "/openapi.json");
                assert_eq!(public, expected, "{method} {path}");
            }
        }
    }

    #[test]
    fn no_pattern_is_written_twice() {
        let mut patterns: Vec<&str> = RESOURCES.iter().map(|r| r.pattern).collect();
        patterns.sort();
        patterns.dedup();
        assert_eq!(patterns.len(), RESOURCES.len());
    }

    #[test]
    fn both_path_forms_reach_the_same_operation() {
        let plain = matched("PATCH", "/api/tasks/42/complete");
        assert_eq!(plain.op, Op::Task(TaskOp::Complete));
        assert_eq!((plain.user_id, plain.task_id), (None, Some("42")));
        let form = matched("PATCH", "/api/user%20one/tasks/42/complete");
        assert_eq!(form.op, Op::Task(TaskOp::Complete));
        assert_eq!(form.user_id.as_deref(), Some("user one"));
        assert_eq!(form.task_id, Some("42"));
        assert_eq!(form.pattern, "/api/{user_id}/tasks/{id}/complete");
        let delete = matched("DELETE", "/api/u1/tasks/x");
        assert_eq!(delete.op, Op::Task(TaskOp::Delete));
        assert_eq!(delete.task_id, Some("x"));
    }

    #[test]
    fn literal_segments_win() {
        let m = matched("GET", "/api/tasks/tasks");
        assert_eq!(
            (m.op, m.user_id, m.task_id),
            (Op::Task(TaskOp::Get), None, Some("tasks"))
        );
        assert_eq!(matched("GET", "/api/me").op, Op::Me);
        let list = matched("GET", "/api/me/tasks");
        assert_eq!(
            (list.op, list.user_id.as_deref()),
            (Op::Task(TaskOp::List), Some("me"))
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
                allow: "GET, POST".into()
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
