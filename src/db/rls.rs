//! Row-level security: the database's own isolation layer, under the worker's.
//!
//! Every request's statement goes to Neon as a batch transaction whose first statement
//! sets the user and switches to the restricted role for that transaction only; the
//! data statement is always last. migrations/0002 creates the role and the policy
//! that admits only rows whose `user_id` equals the setting, so even a statement that
//! lacked its `user_id = $1` predicate would see and change only the caller's rows.
//! There is no switch to turn this off: `batch` is the only way statements are sent.

use super::{DbError, Statement};
use crate::auth::UserScope;

/// The role the worker's statements run as: subject to the policies, no BYPASSRLS.
pub const ROLE: &str = "task_api_user";

/// `true` makes both settings local to the transaction, so nothing of one request's
/// user or role survives into the next request on the same pooled connection.
pub const SET_USER: &str =
    "SELECT set_config('app.user_id', $1, true), set_config('role', 'task_api_user', true)";

/// The statements of this module, for the audit.
pub const ALL_STATEMENTS: &[&str] = &[SET_USER];

/// The batch for one request: the prefix, then the data statement.
pub fn batch(user: &UserScope, statement: &Statement) -> [Statement; 2] {
    [Statement::for_user(SET_USER, user), statement.clone()]
}

/// What to run when the prefix fails; the log line says it.
const SETUP_HINT: &str = "the database is not set up for row-level security \
     (role task_api_user missing or not granted to the connection's user): \
     run `npm run migrate` with DATABASE_URL set";

/// A failed batch whose prefix could not switch role is the deployment's fault, not
/// the client's: the role is missing (22023) or the connection's user may not use it
/// (42501, "permission denied to set role"). A 42501 from the policy itself ("violates
/// row-level security policy") is a bug in a statement and stays an SQL error.
pub fn classify(err: DbError) -> DbError {
    match &err {
        DbError::Sql { code, message, .. }
            if code == "22023" || (code == "42501" && message.contains("role")) =>
        {
            DbError::Setup(format!("{SETUP_HINT} (SQLSTATE {code})"))
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_comes_first_and_binds_the_user() {
        let user = UserScope::for_tests("u-7");
        let data = Statement::for_user("SELECT 1 WHERE $1 = $1", &user);
        let [prefix, last] = batch(&user, &data);
        assert_eq!(prefix.sql(), SET_USER);
        assert_eq!(prefix.params(), &[Some("u-7".to_string())]);
        assert_eq!(last, data);
        assert!(SET_USER.contains(ROLE));
    }

    #[test]
    fn a_failed_prefix_is_a_setup_error_and_says_what_to_run() {
        let sql = |code: &str, message: &str| DbError::Sql {
            code: code.into(),
            constraint: None,
            message: message.into(),
        };
        for err in [
            sql("22023", r#"role "task_api_user" does not exist"#),
            sql("42501", r#"permission denied to set role "task_api_user""#),
        ] {
            match classify(err) {
                DbError::Setup(reason) => assert!(reason.contains("npm run migrate")),
                other => panic!("{other:?}"),
            }
        }
        let policy = sql(
            "42501",
            r#"new row violates row-level security policy for table "tasks""#,
        );
        assert_eq!(classify(policy.clone()), policy);
        assert_eq!(classify(sql("23514", "check")), sql("23514", "check"));
    }
}
