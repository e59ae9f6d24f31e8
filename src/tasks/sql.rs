//! Every SQL statement the worker sends about tasks, written out in full, and the
//! functions that bind each one to a user.
//!
//! Isolation rules, enforced by construction:
//! - a statement can only be made by `Statement::for_user`, which takes a `UserScope`
//!   (only token verification can create one) and binds that user's id as `$1`;
//! - every reference to a per-user table is constrained to `$1`: in the `WHERE` of
//!   its query block (reads, updates, deletes, and every CTE or subquery) or in the
//!   inserted values. `crate::db::audit` checks every SQL text in the crate for it;
//! - SQL text is `&'static str`; ids and all other input travel as bound parameters.
//!
//! Each API operation is one statement, i.e. one round trip to Neon; updates are single
//! `UPDATE … RETURNING` statements, so there is no read-modify-write race, and the
//! toggle is `completed = NOT completed`.

use super::listing::{ListQuery, SortColumn, SortOrder};
use super::{NewTask, Task, TaskPatch};
use crate::auth::UserScope;
use crate::db::protocol::{take, DecodeError, QueryResult, Statement, Value};
use crate::db::DbError;

/// Tables whose rows belong to one user. Every reference to one must be scoped.
pub const PER_USER_TABLES: &[&str] = &["tasks", "idempotency_keys"];

// Every statement returns the task's columns in this order (see `tasks_from`);
// writes also return an `outcome` first (see `Outcome`).

/// A create within the user's quota (`$5`): always exactly one row — `created` and the
/// new task, or `full` and NULLs when the user already holds `$5` tasks. Race-free only
/// under the user's advisory lock (`rls::Serialize::PerUser`): without it, two
/// concurrent creates would both count the same rows and both insert.
pub const INSERT: &str = "WITH quota AS (SELECT count(*) AS used FROM tasks WHERE user_id = $1), \
     inserted AS ( \
       INSERT INTO tasks (user_id, title, description, completed) \
       SELECT $1, $2, $3, $4::boolean FROM quota WHERE used < $5::bigint \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at) \
     SELECT CASE WHEN inserted.id IS NULL THEN 'full' ELSE 'created' END AS outcome, \
       inserted.id, inserted.user_id, inserted.title, inserted.description, \
       inserted.completed, inserted.version, inserted.created_at, inserted.updated_at \
     FROM quota LEFT JOIN inserted ON true";

/// A create with an `Idempotency-Key` (`$6`; `$7` the request's fingerprint, stored as
/// a SHA-256): within 24 h the same key replays the task as it was created
/// (`replayed`, or `key_reused` when the fingerprint differs) and inserts nothing —
/// also when the quota is full; otherwise as `INSERT`, remembering the key and a
/// snapshot of the created task. Under the user's advisory lock, a concurrent retry
/// with the same key waits for the first and then finds its key.
pub const INSERT_IDEMPOTENT: &str = "WITH prior AS ( \
       SELECT request_hash = encode(sha256(convert_to($7, 'UTF8')), 'hex') AS same_body, \
         task_id, title, description, completed, task_created_at, task_updated_at \
       FROM idempotency_keys \
       WHERE user_id = $1 AND key = $6 AND created_at > now() - interval '24 hours'), \
     quota AS (SELECT count(*) AS used FROM tasks WHERE user_id = $1), \
     inserted AS ( \
       INSERT INTO tasks (user_id, title, description, completed) \
       SELECT $1, $2, $3, $4::boolean FROM quota \
       WHERE used < $5::bigint AND NOT EXISTS (SELECT 1 FROM prior) \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at), \
     remembered AS ( \
       INSERT INTO idempotency_keys (user_id, key, request_hash, task_id, title, description, \
         completed, task_created_at, task_updated_at) \
       SELECT $1, $6, encode(sha256(convert_to($7, 'UTF8')), 'hex'), id, title, description, \
         completed, created_at, updated_at \
       FROM inserted RETURNING task_id) \
     SELECT CASE WHEN prior.same_body THEN 'replayed' ELSE 'key_reused' END AS outcome, \
       prior.task_id AS id, $1 AS user_id, prior.title, prior.description, prior.completed, \
       1 AS version, prior.task_created_at AS created_at, prior.task_updated_at AS updated_at \
     FROM prior \
     UNION ALL \
     SELECT CASE WHEN inserted.id IS NULL THEN 'full' ELSE 'created' END, \
       inserted.id, inserted.user_id, inserted.title, inserted.description, \
       inserted.completed, inserted.version, inserted.created_at, inserted.updated_at \
     FROM quota LEFT JOIN inserted ON true \
     WHERE NOT EXISTS (SELECT 1 FROM prior)";

/// Forgets the user's idempotency keys older than 24 h. Runs before a create, in its
/// transaction: the worker can see no other user's rows, so each user's own requests
/// keep their keys bounded.
pub const PURGE_KEYS: &str = "DELETE FROM idempotency_keys \
     WHERE user_id = $1 AND created_at <= now() - interval '24 hours'";

pub const GET: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 AND id = $2::bigint";

// Single-task writes take the `If-Match` condition as `$n::bigint[]` (NULL: none) and
// answer one row: `changed` and the task, `precondition_failed` and the current
// version, or nothing when the user has no such task. The fallback read locks the row
// (FOR SHARE): at READ COMMITTED a plain read would use the statement's snapshot and,
// when another write won the race a moment earlier, report the version it replaced;
// the lock waits for that write and returns the committed version. The condition and
// the write are one statement, so nothing can change in between.

pub const REPLACE: &str = "WITH changed AS ( \
       UPDATE tasks SET title = $3, description = $4, completed = $5::boolean, \
         version = version + 1, updated_at = now() \
       WHERE user_id = $1 AND id = $2::bigint \
         AND ($6::bigint[] IS NULL OR version = ANY($6::bigint[])) \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at), \
     current AS ( \
       SELECT version FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint AND NOT EXISTS (SELECT 1 FROM changed) \
       FOR SHARE) \
     SELECT 'changed' AS outcome, id, user_id, title, description, completed, version, \
       created_at, updated_at FROM changed \
     UNION ALL \
     SELECT 'precondition_failed', NULL, NULL, NULL, NULL, NULL, version, NULL, NULL FROM current";

/// `$4` says whether `description` is being set: a JSON `null` must clear it, while an
/// absent key leaves it alone, and `COALESCE` alone cannot tell the two apart.
pub const PATCH: &str = "WITH changed AS ( \
       UPDATE tasks SET title = COALESCE($3, title), \
         description = CASE WHEN $4::boolean THEN $5 ELSE description END, \
         completed = COALESCE($6::boolean, completed), \
         version = version + 1, updated_at = now() \
       WHERE user_id = $1 AND id = $2::bigint \
         AND ($7::bigint[] IS NULL OR version = ANY($7::bigint[])) \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at), \
     current AS ( \
       SELECT version FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint AND NOT EXISTS (SELECT 1 FROM changed) \
       FOR SHARE) \
     SELECT 'changed' AS outcome, id, user_id, title, description, completed, version, \
       created_at, updated_at FROM changed \
     UNION ALL \
     SELECT 'precondition_failed', NULL, NULL, NULL, NULL, NULL, version, NULL, NULL FROM current";

pub const TOGGLE: &str = "WITH changed AS ( \
       UPDATE tasks SET completed = NOT completed, version = version + 1, updated_at = now() \
       WHERE user_id = $1 AND id = $2::bigint \
         AND ($3::bigint[] IS NULL OR version = ANY($3::bigint[])) \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at), \
     current AS ( \
       SELECT version FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint AND NOT EXISTS (SELECT 1 FROM changed) \
       FOR SHARE) \
     SELECT 'changed' AS outcome, id, user_id, title, description, completed, version, \
       created_at, updated_at FROM changed \
     UNION ALL \
     SELECT 'precondition_failed', NULL, NULL, NULL, NULL, NULL, version, NULL, NULL FROM current";

pub const SET_COMPLETED: &str = "WITH changed AS ( \
       UPDATE tasks SET completed = $3::boolean, version = version + 1, updated_at = now() \
       WHERE user_id = $1 AND id = $2::bigint \
         AND ($4::bigint[] IS NULL OR version = ANY($4::bigint[])) \
       RETURNING id, user_id, title, description, completed, version, created_at, updated_at), \
     current AS ( \
       SELECT version FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint AND NOT EXISTS (SELECT 1 FROM changed) \
       FOR SHARE) \
     SELECT 'changed' AS outcome, id, user_id, title, description, completed, version, \
       created_at, updated_at FROM changed \
     UNION ALL \
     SELECT 'precondition_failed', NULL, NULL, NULL, NULL, NULL, version, NULL, NULL FROM current";

pub const DELETE: &str = "WITH removed AS ( \
       DELETE FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint \
         AND ($3::bigint[] IS NULL OR version = ANY($3::bigint[])) \
       RETURNING version), \
     current AS ( \
       SELECT version FROM tasks \
       WHERE user_id = $1 AND id = $2::bigint AND NOT EXISTS (SELECT 1 FROM removed) \
       FOR SHARE) \
     SELECT 'changed' AS outcome, version FROM removed \
     UNION ALL \
     SELECT 'precondition_failed', version FROM current";

// Listing: one statement per sort column and direction, so the ORDER BY and the keyset
// comparison are static text that an index on (user_id, <column>, id) serves. The
// optional filters fold away when their parameter is NULL (Neon plans each unnamed
// statement with its actual parameter values).
//   $1 user · $2 completed filter (bool or NULL) · $3 ILIKE pattern or NULL
//   $4/$5 cursor (sort value, id) or NULL · $6 limit (one more than the page)

pub const LIST_CREATED_DESC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::bigint)) \
     ORDER BY created_at DESC, id DESC LIMIT $6::integer";

pub const LIST_CREATED_ASC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::bigint)) \
     ORDER BY created_at ASC, id ASC LIMIT $6::integer";

pub const LIST_UPDATED_DESC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::timestamptz IS NULL OR (updated_at, id) < ($4::timestamptz, $5::bigint)) \
     ORDER BY updated_at DESC, id DESC LIMIT $6::integer";

pub const LIST_UPDATED_ASC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::timestamptz IS NULL OR (updated_at, id) > ($4::timestamptz, $5::bigint)) \
     ORDER BY updated_at ASC, id ASC LIMIT $6::integer";

pub const LIST_TITLE_DESC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::text IS NULL OR (title, id) < ($4::text, $5::bigint)) \
     ORDER BY title DESC, id DESC LIMIT $6::integer";

pub const LIST_TITLE_ASC: &str =
    "SELECT id, user_id, title, description, completed, version, created_at, updated_at \
     FROM tasks WHERE user_id = $1 \
     AND ($2::boolean IS NULL OR completed = $2::boolean) \
     AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
     AND ($4::text IS NULL OR (title, id) > ($4::text, $5::bigint)) \
     ORDER BY title ASC, id ASC LIMIT $6::integer";

/// Every statement about tasks. The audit checks each, and checks that no other SQL
/// text exists in the crate.
pub const ALL_STATEMENTS: &[&str] = &[
    INSERT,
    INSERT_IDEMPOTENT,
    PURGE_KEYS,
    GET,
    REPLACE,
    PATCH,
    TOGGLE,
    SET_COMPLETED,
    DELETE,
    LIST_CREATED_DESC,
    LIST_CREATED_ASC,
    LIST_UPDATED_DESC,
    LIST_UPDATED_ASC,
    LIST_TITLE_DESC,
    LIST_TITLE_ASC,
];

fn list_sql(sort: SortColumn, order: SortOrder) -> &'static str {
    match (sort, order) {
        (SortColumn::CreatedAt, SortOrder::Desc) => LIST_CREATED_DESC,
        (SortColumn::CreatedAt, SortOrder::Asc) => LIST_CREATED_ASC,
        (SortColumn::UpdatedAt, SortOrder::Desc) => LIST_UPDATED_DESC,
        (SortColumn::UpdatedAt, SortOrder::Asc) => LIST_UPDATED_ASC,
        (SortColumn::Title, SortOrder::Desc) => LIST_TITLE_DESC,
        (SortColumn::Title, SortOrder::Asc) => LIST_TITLE_ASC,
    }
}

/// A create: with an `Idempotency-Key`, the replaying form. `fingerprint` is
/// `conditional::request_fingerprint` of the same task.
pub fn insert(
    user: &UserScope,
    task: &NewTask,
    quota: u32,
    key: Option<(&str, &str)>,
) -> Statement {
    let statement = Statement::for_user(
        if key.is_some() {
            INSERT_IDEMPOTENT
        } else {
            INSERT
        },
        user,
    )
    .bind(&task.title)
    .bind_opt(task.description.as_ref())
    .bind(task.completed)
    .bind(quota);
    match key {
        Some((key, fingerprint)) => statement.bind(key).bind(fingerprint),
        None => statement,
    }
}

pub fn purge_keys(user: &UserScope) -> Statement {
    Statement::for_user(PURGE_KEYS, user)
}

pub fn get(user: &UserScope, id: i64) -> Statement {
    Statement::for_user(GET, user).bind(id)
}

/// `versions` is the `If-Match` condition (`conditional::versions_param`).
pub fn replace(user: &UserScope, id: i64, task: &NewTask, versions: Option<&str>) -> Statement {
    Statement::for_user(REPLACE, user)
        .bind(id)
        .bind(&task.title)
        .bind_opt(task.description.as_ref())
        .bind(task.completed)
        .bind_opt(versions)
}

pub fn patch(user: &UserScope, id: i64, patch: &TaskPatch, versions: Option<&str>) -> Statement {
    Statement::for_user(PATCH, user)
        .bind(id)
        .bind_opt(patch.title.as_ref())
        .bind(patch.description.is_some())
        .bind_opt(patch.description.clone().flatten())
        .bind_opt(patch.completed)
        .bind_opt(versions)
}

pub fn toggle(user: &UserScope, id: i64, versions: Option<&str>) -> Statement {
    Statement::for_user(TOGGLE, user)
        .bind(id)
        .bind_opt(versions)
}

pub fn set_completed(
    user: &UserScope,
    id: i64,
    completed: bool,
    versions: Option<&str>,
) -> Statement {
    Statement::for_user(SET_COMPLETED, user)
        .bind(id)
        .bind(completed)
        .bind_opt(versions)
}

pub fn delete(user: &UserScope, id: i64, versions: Option<&str>) -> Statement {
    Statement::for_user(DELETE, user)
        .bind(id)
        .bind_opt(versions)
}

/// Asks for one row more than the page, to learn whether a next page exists.
pub fn list(user: &UserScope, query: &ListQuery) -> Statement {
    Statement::for_user(list_sql(query.sort, query.order), user)
        .bind_opt(query.completed)
        .bind_opt(query.search.as_deref().map(like_pattern))
        .bind_opt(query.after.as_ref().map(|a| &a.value))
        .bind_opt(query.after.as_ref().map(|a| a.id))
        .bind(query.limit + 1)
}

/// Escapes LIKE wildcards so user text matches literally (`50%` finds "50%", not
/// everything starting with 50).
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The field a constraint of `tasks` guards. Constraints are named `tasks_<field>_…`
/// (migrations/0001 says so), so one added later is mapped too. The API validates the
/// same rules first, so reaching this means the two disagree, and the client still
/// gets a 422 that names the field.
pub fn constraint_field(constraint: &str) -> Option<&'static str> {
    let rest = constraint.strip_prefix("tasks_")?;
    ["title", "description", "user_id"]
        .into_iter()
        .find(|field| rest.starts_with(&format!("{field}_")))
}

/// What a write statement reports in its `outcome` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created or changed; the task as it now is (absent for a delete).
    Changed(Option<Task>),
    /// An `Idempotency-Key` seen before with the same request: the task as created.
    Replayed(Task),
    /// An `Idempotency-Key` seen before with another request.
    KeyReused,
    /// The user already holds as many tasks as the quota allows.
    QuotaFull,
    /// `If-Match` named no current version; the task's current version.
    PreconditionFailed { version: i64 },
    /// No such task for this user.
    Missing,
}

fn bad_reply(what: impl std::fmt::Display) -> DbError {
    DbError::Unavailable(format!("write reply: {what}"))
}

/// Decodes the one row (or none) of a write statement.
pub fn outcome_from(result: QueryResult) -> Result<Outcome, DbError> {
    let outcome = result
        .column("outcome")
        .map_err(|DecodeError(e)| bad_reply(e))?;
    let version = result
        .column("version")
        .map_err(|DecodeError(e)| bad_reply(e))?;
    let has_task = result.column("title").is_ok();
    let Some(row) = result.rows.first() else {
        return Ok(Outcome::Missing);
    };
    let text = |i: usize| match row.get(i) {
        Some(Value::Text(t)) => Ok(t.clone()),
        _ => Err(bad_reply("no outcome")),
    };
    let task = |result: QueryResult| -> Result<Task, DbError> {
        tasks_from(result)?
            .pop()
            .ok_or_else(|| bad_reply("no task"))
    };
    match text(outcome)?.as_str() {
        "created" | "changed" if has_task => Ok(Outcome::Changed(Some(task(result)?))),
        "changed" => Ok(Outcome::Changed(None)),
        "replayed" => Ok(Outcome::Replayed(task(result)?)),
        "key_reused" => Ok(Outcome::KeyReused),
        "full" => Ok(Outcome::QuotaFull),
        "precondition_failed" => match row.get(version) {
            Some(Value::Int(v)) => Ok(Outcome::PreconditionFailed { version: *v }),
            _ => Err(bad_reply("no current version")),
        },
        other => Err(bad_reply(format!("unknown outcome {other}"))),
    }
}

/// Decodes every row, moving each string out of the reply rather than copying it
/// (a page is 50 rows × 7 cells). A row that does not decode is a bug or a schema out
/// of step, reported as the database misbehaving.
pub fn tasks_from(result: QueryResult) -> Result<Vec<Task>, DbError> {
    let decode = |result: QueryResult| -> Result<Vec<Task>, DecodeError> {
        let col = |name| result.column(name);
        let (id, user_id, title, description) = (
            col("id")?,
            col("user_id")?,
            col("title")?,
            col("description")?,
        );
        let (completed, version, created_at, updated_at) = (
            col("completed")?,
            col("version")?,
            col("created_at")?,
            col("updated_at")?,
        );
        result
            .rows
            .into_iter()
            .map(|mut row| {
                Ok(Task {
                    id: take(&mut row, id).into_i64()?,
                    user_id: take(&mut row, user_id).into_text()?,
                    title: take(&mut row, title).into_text()?,
                    description: take(&mut row, description).into_opt_text()?,
                    completed: take(&mut row, completed).into_bool()?,
                    version: take(&mut row, version).into_i64()?,
                    created_at: take(&mut row, created_at).into_timestamp()?,
                    updated_at: take(&mut row, updated_at).into_timestamp()?,
                })
            })
            .collect()
    };
    decode(result)
        .map_err(|DecodeError(e)| DbError::Unavailable(format!("task row did not decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::audit;
    use crate::tasks::listing::After;

    #[test]
    fn statement_audit_every_statement_is_user_scoped() {
        for sql in ALL_STATEMENTS {
            audit::check(sql, PER_USER_TABLES).unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
    }

    #[test]
    fn every_operation_binds_the_verified_user_first() {
        let user = UserScope::for_tests("user-A");
        let task = NewTask {
            title: "t".into(),
            description: None,
            completed: false,
        };
        let clear = TaskPatch {
            description: Some(None),
            ..TaskPatch::default()
        };
        let mut sent = vec![
            insert(&user, &task, 10, None),
            insert(&user, &task, 10, Some(("key", "{}"))),
            purge_keys(&user),
            get(&user, 7),
            replace(&user, 7, &task, None),
            patch(&user, 7, &clear, Some("{3}")),
            toggle(&user, 7, None),
            set_completed(&user, 7, true, None),
            delete(&user, 7, Some("{}")),
        ];
        for sort in [
            SortColumn::CreatedAt,
            SortColumn::UpdatedAt,
            SortColumn::Title,
        ] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                sent.push(list(
                    &user,
                    &ListQuery {
                        completed: None,
                        search: None,
                        sort,
                        order,
                        after: None,
                        limit: 10,
                    },
                ));
            }
        }
        let mut seen: Vec<&str> = sent.iter().map(|s| s.sql()).collect();
        seen.sort();
        let mut all = ALL_STATEMENTS.to_vec();
        all.sort();
        assert_eq!(seen, all, "every statement is reachable, and only those");
        for st in &sent {
            assert_eq!(st.params()[0].as_deref(), Some("user-A"), "{}", st.sql());
            assert_eq!(
                st.params().len(),
                audit::highest_placeholder(st.sql()),
                "params match placeholders: {}",
                st.sql()
            );
        }
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let user = UserScope::for_tests("u");
        let clear = patch(
            &user,
            1,
            &TaskPatch {
                description: Some(None),
                ..TaskPatch::default()
            },
            None,
        );
        assert_eq!(clear.params()[3].as_deref(), Some("true"));
        assert_eq!(clear.params()[4], None);
        let keep = patch(
            &user,
            1,
            &TaskPatch {
                completed: Some(true),
                ..TaskPatch::default()
            },
            None,
        );
        assert_eq!(keep.params()[3].as_deref(), Some("false"));
        assert_eq!(keep.params()[5].as_deref(), Some("true"));
    }

    #[test]
    fn search_text_matches_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ß 🌍"), "%ß 🌍%");
    }

    #[test]
    fn list_asks_for_one_extra_row_and_binds_the_cursor() {
        let user = UserScope::for_tests("u");
        let st = list(
            &user,
            &ListQuery {
                completed: Some(false),
                search: Some("milk".into()),
                sort: SortColumn::Title,
                order: SortOrder::Asc,
                after: Some(After {
                    value: "b".into(),
                    id: 9,
                }),
                limit: 50,
            },
        );
        assert_eq!(st.sql(), LIST_TITLE_ASC);
        let params: Vec<Option<&str>> = st.params().iter().map(|p| p.as_deref()).collect();
        assert_eq!(
            params,
            vec![
                Some("u"),
                Some("false"),
                Some("%milk%"),
                Some("b"),
                Some("9"),
                Some("51")
            ]
        );
    }

    /// Every check constraint the migrations put on `tasks` has its field here, so a
    /// violation is a 422 naming it rather than a generic error.
    #[test]
    fn every_check_constraint_of_tasks_is_mapped() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let words: Vec<&str> = sql.split_whitespace().collect();
            for pair in words.windows(3) {
                if pair[0] == "CONSTRAINT" && pair[2] == "CHECK" && pair[1].starts_with("tasks_") {
                    assert!(constraint_field(pair[1]).is_some(), "{} unmapped", pair[1]);
                    seen += 1;
                }
            }
        }
        assert!(seen >= 3);
    }

    #[test]
    fn check_constraints_name_their_field() {
        assert_eq!(constraint_field("tasks_title_length"), Some("title"));
        assert_eq!(
            constraint_field("tasks_description_length"),
            Some("description")
        );
        assert_eq!(constraint_field("tasks_title_not_forbidden"), Some("title"));
        assert_eq!(constraint_field("tasks_pkey"), None);
        assert_eq!(constraint_field("tasks_titles"), None);
    }
}
