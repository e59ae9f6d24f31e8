-- The task's JSON shape, defined once, in the database: the list is rendered by
-- Postgres and the worker copies each row's text into its reply without decoding
-- and re-encoding it (what PostgREST does). The text is byte for byte what the
-- worker's own renderer (serde_json over `Task`) writes: keys in the same order,
-- strings escaped by to_json (the same escapes serde_json uses: \" \\ \b \f \n \r \t,
-- other control characters as \u00xx, everything else as is), timestamps in UTC with
-- exactly six fractional digits. A golden test (tests/list.spec.mjs) compares the two.
--
-- Plain (STABLE: to_char is) SQL functions of their arguments, so the planner inlines them into the
-- calling statement: they add no privilege and no table access of their own (the
-- statement's user predicate and row-level security still decide which rows exist).

CREATE OR REPLACE FUNCTION task_time(at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE OR REPLACE FUNCTION task_json(
  id bigint, user_id text, title text, description text, completed boolean,
  version integer, created_at timestamptz, updated_at timestamptz
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT '{"id":' || id
  || ',"user_id":' || to_json(user_id)::text
  || ',"title":' || to_json(title)::text
  || ',"description":' || coalesce(to_json(description)::text, 'null')
  || ',"completed":' || CASE WHEN completed THEN 'true' ELSE 'false' END
  || ',"version":' || version
  || ',"created_at":"' || task_time(created_at)
  || '","updated_at":"' || task_time(updated_at) || '"}' $$;
