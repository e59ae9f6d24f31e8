//! The user-scoped task repository: every statement the crate sends about tasks.
//!
//! Isolation rules (SPEC §6), enforced by construction:
//! - every function takes a `UserScope`, which only token verification can create;
//! - every statement binds that user's id as `$1` — in the `WHERE` of reads, updates
//!   and deletes, in the values of the insert — and ids and other input travel as
//!   bound parameters; SQL text is `&'static str`, never assembled from input;
//! - `ALL_STATEMENTS` lists every statement, and a test checks each one and checks
//!   that no other SQL exists in the crate.
//!
//! Each API operation is one statement, i.e. one round trip to Neon; updates are
//! single `UPDATE … RETURNING` statements, so there is no read-modify-write race.

use serde::Serialize;

#[cfg(target_arch = "wasm32")]
use super::protocol::Access;
use super::protocol::{take, DbError, DecodeError, QueryResult, Statement};
use crate::auth::UserScope;

macro_rules! returning {
    ($sql:literal) => {
        concat!(
            $sql,
            " RETURNING id, user_id, title, description, completed, created_at, updated_at"
        )
    };
}

pub const INSERT: &str = returning!(
    "INSERT INTO tasks (user_id, title, description, completed) VALUES ($1, $2, $3, $4::boolean)"
);
pub const GET: &str = "SELECT id, user_id, title, description, completed, created_at, updated_at \
     FROM tasks WHERE user_id = $1 AND id = $2::bigint";
pub const REPLACE: &str = returning!(
    "UPDATE tasks SET title = $3, description = $4, completed = $5::boolean, updated_at = now() \
     WHERE user_id = $1 AND id = $2::bigint"
);
/// `$4` says whether `description` is being set: a JSON `null` must clear it, while an
/// absent key leaves it alone, and `COALESCE` alone cannot tell the two apart.
pub const PATCH: &str = returning!(
    "UPDATE tasks SET title = COALESCE($3, title), \
     description = CASE WHEN $4::boolean THEN $5 ELSE description END, \
     completed = COALESCE($6::boolean, completed), updated_at = now() \
     WHERE user_id = $1 AND id = $2::bigint"
);
pub const TOGGLE: &str = returning!(
    "UPDATE tasks SET completed = NOT completed, updated_at = now() \
     WHERE user_id = $1 AND id = $2::bigint"
);
pub const SET_COMPLETED: &str = returning!(
    "UPDATE tasks SET completed = $3::boolean, updated_at = now() \
     WHERE user_id = $1 AND id = $2::bigint"
);
pub const DELETE: &str = "DELETE FROM tasks WHERE user_id = $1 AND id = $2::bigint RETURNING id";

// Listing: one statement per sort column and direction, so the ORDER BY and the keyset
// comparison are static text that an index on (user_id, <column>, id) serves. The
// optional filters fold away when their parameter is NULL (Neon plans each unnamed
// statement with its actual parameter values).
//   $1 user · $2 completed filter (bool or NULL) · $3 ILIKE pattern or NULL
//   $4/$5 cursor (sort value, id) or NULL · $6 limit
macro_rules! list {
    ($column:literal, $cast:literal, $cmp:literal, $dir:literal) => {
        concat!(
            "SELECT id, user_id, title, description, completed, created_at, updated_at FROM tasks \
             WHERE user_id = $1 \
             AND ($2::boolean IS NULL OR completed = $2::boolean) \
             AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text) \
             AND ($4",
            $cast,
            " IS NULL OR (",
            $column,
            ", id) ",
            $cmp,
            " ($4",
            $cast,
            ", $5::bigint)) ORDER BY ",
            $column,
            " ",
            $dir,
            ", id ",
            $dir,
            " LIMIT $6::integer"
        )
    };
}

pub const LIST_CREATED_DESC: &str = list!("created_at", "::timestamptz", "<", "DESC");
pub const LIST_CREATED_ASC: &str = list!("created_at", "::timestamptz", ">", "ASC");
pub const LIST_UPDATED_DESC: &str = list!("updated_at", "::timestamptz", "<", "DESC");
pub const LIST_UPDATED_ASC: &str = list!("updated_at", "::timestamptz", ">", "ASC");
pub const LIST_TITLE_DESC: &str = list!("title", "::text", "<", "DESC");
pub const LIST_TITLE_ASC: &str = list!("title", "::text", ">", "ASC");

/// Every statement this crate can send. The audit test walks this list and the
/// source tree.
pub const ALL_STATEMENTS: &[&str] = &[
    INSERT,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: i64,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: String,
    pub updated_at: String,
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
        let (completed, created_at, updated_at) =
            (col("completed")?, col("created_at")?, col("updated_at")?);
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
                    created_at: take(&mut row, created_at).into_timestamp()?,
                    updated_at: take(&mut row, updated_at).into_timestamp()?,
                })
            })
            .collect()
    };
    decode(result)
        .map_err(|DecodeError(e)| DbError::Unavailable(format!("task row did not decode: {e}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// A keyset position: the sort value and id of the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub value: String,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    pub sort: SortColumn,
    pub order: SortOrder,
    pub after: Option<After>,
    pub limit: u32,
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

/// Field values for a full replace or an insert, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
}

/// A partial update; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

/// The statements of each operation, built for one user. Pure, so the binding of the
/// user id can be checked natively; `TaskStore` sends them.
pub mod statements {
    use super::*;

    fn scoped(sql: &'static str, user: &UserScope) -> Statement {
        Statement::new(sql).bind(user.user_id())
    }

    pub fn insert(user: &UserScope, task: &NewTask) -> Statement {
        scoped(INSERT, user)
            .bind(&task.title)
            .bind_opt(task.description.as_ref())
            .bind(task.completed)
    }

    pub fn get(user: &UserScope, id: i64) -> Statement {
        scoped(GET, user).bind(id)
    }

    pub fn replace(user: &UserScope, id: i64, task: &NewTask) -> Statement {
        scoped(REPLACE, user)
            .bind(id)
            .bind(&task.title)
            .bind_opt(task.description.as_ref())
            .bind(task.completed)
    }

    pub fn patch(user: &UserScope, id: i64, patch: &TaskPatch) -> Statement {
        scoped(PATCH, user)
            .bind(id)
            .bind_opt(patch.title.as_ref())
            .bind(patch.description.is_some())
            .bind_opt(patch.description.clone().flatten())
            .bind_opt(patch.completed)
    }

    pub fn toggle(user: &UserScope, id: i64) -> Statement {
        scoped(TOGGLE, user).bind(id)
    }

    pub fn set_completed(user: &UserScope, id: i64, completed: bool) -> Statement {
        scoped(SET_COMPLETED, user).bind(id).bind(completed)
    }

    pub fn delete(user: &UserScope, id: i64) -> Statement {
        scoped(DELETE, user).bind(id)
    }

    /// Asks for one row more than the page, to learn whether a next page exists.
    pub fn list(user: &UserScope, query: &ListQuery) -> Statement {
        scoped(list_sql(query.sort, query.order), user)
            .bind_opt(query.completed)
            .bind_opt(query.search.as_deref().map(like_pattern))
            .bind_opt(query.after.as_ref().map(|a| &a.value))
            .bind_opt(query.after.as_ref().map(|a| a.id))
            .bind(query.limit + 1)
    }
}

/// Sends the statements above over Neon's HTTP endpoint (wasm only).
#[cfg(target_arch = "wasm32")]
pub struct TaskStore<'a> {
    pub db: &'a super::client::NeonClient,
}

#[cfg(target_arch = "wasm32")]
impl TaskStore<'_> {
    async fn one(&self, statement: Statement, access: Access) -> Result<Option<Task>, DbError> {
        let result = self.db.query(&statement, access).await?;
        Ok(tasks_from(result)?.into_iter().next())
    }

    pub async fn create(&self, user: &UserScope, task: &NewTask) -> Result<Task, DbError> {
        self.one(statements::insert(user, task), Access::Write)
            .await?
            .ok_or_else(|| DbError::Unavailable("INSERT returned no row".into()))
    }

    pub async fn get(&self, user: &UserScope, id: i64) -> Result<Option<Task>, DbError> {
        self.one(statements::get(user, id), Access::Read).await
    }

    pub async fn replace(
        &self,
        user: &UserScope,
        id: i64,
        task: &NewTask,
    ) -> Result<Option<Task>, DbError> {
        self.one(statements::replace(user, id, task), Access::Write)
            .await
    }

    pub async fn patch(
        &self,
        user: &UserScope,
        id: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>, DbError> {
        self.one(statements::patch(user, id, patch), Access::Write)
            .await
    }

    pub async fn toggle(&self, user: &UserScope, id: i64) -> Result<Option<Task>, DbError> {
        self.one(statements::toggle(user, id), Access::Write).await
    }

    pub async fn set_completed(
        &self,
        user: &UserScope,
        id: i64,
        completed: bool,
    ) -> Result<Option<Task>, DbError> {
        self.one(
            statements::set_completed(user, id, completed),
            Access::Write,
        )
        .await
    }

    /// `true` when a task was deleted.
    pub async fn delete(&self, user: &UserScope, id: i64) -> Result<bool, DbError> {
        let result = self
            .db
            .query(&statements::delete(user, id), Access::Write)
            .await?;
        Ok(!result.rows.is_empty())
    }

    /// A page of tasks and whether more follow.
    pub async fn list(
        &self,
        user: &UserScope,
        query: &ListQuery,
    ) -> Result<(Vec<Task>, bool), DbError> {
        let result = self
            .db
            .query(&statements::list(user, query), Access::Read)
            .await?;
        let mut tasks = tasks_from(result)?;
        let more = tasks.len() > query.limit as usize;
        tasks.truncate(query.limit as usize);
        Ok((tasks, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// SPEC §6: every statement that touches `tasks` binds the caller's id as `$1`, in
    /// the WHERE clause (as a conjunct, never inside an OR) or in the inserted values.
    #[test]
    fn statement_audit_every_statement_is_user_scoped() {
        assert_eq!(ALL_STATEMENTS.len(), 13);
        for sql in ALL_STATEMENTS {
            let sql = normalized(sql);
            assert!(sql.contains("tasks"), "{sql}");
            if sql.starts_with("INSERT") {
                assert!(
                    sql.starts_with("INSERT INTO tasks (user_id, ") && sql.contains("VALUES ($1, "),
                    "insert must put $1 into user_id: {sql}"
                );
            } else {
                let (_, after_where) = sql.split_once(" WHERE ").expect("has a WHERE");
                assert!(
                    after_where.starts_with("user_id = $1 AND "),
                    "WHERE must start with the user predicate as a conjunct: {sql}"
                );
                assert_eq!(sql.matches(" WHERE ").count(), 1, "one WHERE only: {sql}");
            }
            assert!(!sql.to_lowercase().contains("or user_id"), "{sql}");
        }
    }

    /// No other SQL anywhere in the crate: only this file names the table in a
    /// statement, and only its `scoped` helper creates statements.
    #[test]
    fn statement_audit_no_sql_outside_the_repository() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 10);
        for file in files {
            let rel = file
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&file).unwrap();
            let upper = text.to_uppercase();
            if rel != "db/tasks.rs" {
                for needle in ["FROM TASKS", "INTO TASKS", "UPDATE TASKS", "JOIN TASKS"] {
                    assert!(
                        !upper.contains(needle),
                        "{rel} contains SQL on tasks ({needle})"
                    );
                }
                if rel != "db/protocol.rs" {
                    assert!(
                        !text.contains("Statement::new("),
                        "{rel} builds a statement"
                    );
                }
            } else {
                let code = &text[..text.find("#[cfg(test)]\nmod tests").unwrap()];
                assert_eq!(
                    code.matches("Statement::new(").count(),
                    1,
                    "only `scoped` builds statements"
                );
            }
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
        let patch = TaskPatch {
            description: Some(None),
            ..TaskPatch::default()
        };
        let mut sent = vec![
            statements::insert(&user, &task),
            statements::get(&user, 7),
            statements::replace(&user, 7, &task),
            statements::patch(&user, 7, &patch),
            statements::toggle(&user, 7),
            statements::set_completed(&user, 7, true),
            statements::delete(&user, 7),
        ];
        for sort in [
            SortColumn::CreatedAt,
            SortColumn::UpdatedAt,
            SortColumn::Title,
        ] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                sent.push(statements::list(
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
        let mut seen: Vec<&str> = sent.iter().map(|s| s.sql).collect();
        seen.sort();
        let mut all = ALL_STATEMENTS.to_vec();
        all.sort();
        assert_eq!(seen, all, "every statement is reachable, and only those");
        for st in &sent {
            assert_eq!(st.params[0].as_deref(), Some("user-A"), "{}", st.sql);
            let highest = (1..=9)
                .rev()
                .find(|n| st.sql.contains(&format!("${n}")))
                .unwrap();
            assert_eq!(
                st.params.len(),
                highest,
                "params match placeholders: {}",
                st.sql
            );
        }
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let user = UserScope::for_tests("u");
        let clear = statements::patch(
            &user,
            1,
            &TaskPatch {
                description: Some(None),
                ..TaskPatch::default()
            },
        );
        assert_eq!(clear.params[3].as_deref(), Some("true"));
        assert_eq!(clear.params[4], None);
        let keep = statements::patch(
            &user,
            1,
            &TaskPatch {
                completed: Some(true),
                ..TaskPatch::default()
            },
        );
        assert_eq!(keep.params[3].as_deref(), Some("false"));
        assert_eq!(keep.params[5].as_deref(), Some("true"));
    }

    #[test]
    fn search_text_matches_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ß 🌍"), "%ß 🌍%");
    }

    #[test]
    fn list_asks_for_one_extra_row_and_binds_the_cursor() {
        let user = UserScope::for_tests("u");
        let st = statements::list(
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
        assert_eq!(st.sql, LIST_TITLE_ASC);
        let params: Vec<Option<&str>> = st.params.iter().map(|p| p.as_deref()).collect();
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
        assert!(normalized(LIST_TITLE_ASC)
            .contains("(title, id) > ($4::text, $5::bigint)) ORDER BY title ASC, id ASC"));
        assert!(normalized(LIST_CREATED_DESC).contains(
            "(created_at, id) < ($4::timestamptz, $5::bigint)) ORDER BY created_at DESC, id DESC"
        ));
    }
}
