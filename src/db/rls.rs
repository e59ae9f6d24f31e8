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

/// The same, also taking the user's transaction-scoped advisory lock: requests that
/// must not interleave with the same user's other such requests (a create checked
/// against the quota) queue here, and each one's data statement then starts with a
/// fresh snapshot (READ COMMITTED) that sees what the one before committed. The two
/// keys keep these locks apart from any other application's single-key locks.
pub const SET_USER_EXCLUSIVE: &str = "SELECT set_config('app.user_id', $1, true), \
     set_config('role', 'task_api_user', true), pg_advisory_xact_lock(20580, hashtext($1))";

/// The statements of this module, for the audit.
pub const ALL_STATEMENTS: &[&str] = &[SET_USER, SET_USER_EXCLUSIVE];

/// Whether a request's transaction holds the user's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serialize {
    /// Runs alongside the user's other requests (reads, updates, deletes).
    Concurrent,
    /// Queues behind the user's other exclusive requests.
    PerUser,
}

/// The batch for one request: the prefix, any housekeeping, then the data statement,
/// always last.
pub fn batch(
    user: &UserScope,
    housekeeping: Option<&Statement>,
    statement: &Statement,
    serialize: Serialize,
) -> Vec<Statement> {
    let prefix = match serialize {
        Serialize::Concurrent => SET_USER,
        Serialize::PerUser => SET_USER_EXCLUSIVE,
    };
    let mut batch = vec![Statement::for_user(prefix, user)];
    batch.extend(housekeeping.cloned());
    batch.push(statement.clone());
    batch
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
        let plain = batch(&user, None, &data, Serialize::Concurrent);
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[0].sql(), SET_USER);
        assert_eq!(plain[0].params(), &[Some("u-7".to_string())]);
        assert_eq!(plain[1], data);
        let chore = Statement::for_user("DELETE FROM x WHERE user_id = $1", &user);
        let locked = batch(&user, Some(&chore), &data, Serialize::PerUser);
        assert_eq!(locked.len(), 3);
        assert_eq!(locked[0].sql(), SET_USER_EXCLUSIVE);
        assert_eq!(locked[1], chore);
        assert_eq!(locked[2], data, "the data statement is always last");
        let locked = &locked[0];
        assert!(locked.sql().starts_with(&SET_USER[..SET_USER.len() - 1]));
        for sql in ALL_STATEMENTS {
            assert!(sql.contains(ROLE));
        }
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
