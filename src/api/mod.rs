//! The HTTP surface that is not the task resource: the route table (`routes`: what
//! exists and which operations are public), CORS, the OpenAPI document, and `/api/me`.

pub mod cors;
pub mod headers;
pub mod openapi;
pub mod routes;

use serde_json::json;

use crate::auth::UserScope;
use crate::reply::Reply;

/// `GET /api/me`: who the verified token says the caller is. No database.
pub fn me(user: &UserScope) -> Reply {
    let mut body = json!({ "user_id": user.user_id() });
    if let Some(email) = user.email() {
        body["email"] = email.into();
    }
    if let Some(name) = user.name() {
        body["name"] = name.into();
    }
    Reply::json(200, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_shows_only_what_the_token_holds() {
        let reply = me(&UserScope::for_tests("u-1"));
        assert_eq!(reply.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body, json!({"user_id": "u-1"}));
    }
}
