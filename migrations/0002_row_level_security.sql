-- Row-level security: a second isolation layer, independent of the worker's own
-- `user_id = $1` predicates. The worker starts every transaction with
--   SELECT set_config('app.user_id', $1, true), set_config('role', 'task_api_user', true)
-- so its statements run as `task_api_user`, a role without BYPASSRLS, and the policy
-- below admits only the rows of that transaction's user. A statement that forgot its
-- predicate still sees and changes nothing of anyone else's.
--
-- The role is needed because the connection's own user usually cannot be restricted:
-- Neon's default `neondb_owner` has BYPASSRLS, and a superuser always bypasses. FORCE
-- makes the policy bind the table's owner too, when the owner lacks BYPASSRLS.

-- Roles are cluster-wide: another database on the same server may have created it
-- already, possibly at this very moment.
DO $$
BEGIN
  CREATE ROLE task_api_user NOLOGIN NOINHERIT NOBYPASSRLS;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- The connection's user must be a member to switch to it (SET ROLE checks membership;
-- on PostgreSQL 16+ even the role's creator is not a member without this grant).
GRANT task_api_user TO CURRENT_USER;

GRANT USAGE ON SCHEMA public TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO task_api_user;

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

-- One policy for every command: USING filters what SELECT, UPDATE and DELETE see,
-- WITH CHECK refuses an INSERT or UPDATE that would leave a row of another user.
-- `current_setting(…, true)` is NULL when never set and '' once a transaction on the
-- same connection has set it locally and ended; neither equals a user id (ids are
-- 1–255 characters), so a transaction without the setting sees nothing.
CREATE POLICY tasks_user_isolation ON tasks
  USING (user_id = current_setting('app.user_id', true))
  WITH CHECK (user_id = current_setting('app.user_id', true));
