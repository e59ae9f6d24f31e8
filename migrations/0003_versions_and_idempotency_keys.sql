-- Conditional requests and safe retries.
--
-- `version`: 1 on create, +1 in the same statement as every change. A task's ETag is
-- `"<version>"`, so `If-Match` can make a write apply only to the version the client
-- saw, and `If-None-Match` can answer 304 for a copy that is still current. Existing
-- rows start at 1.
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1;

-- A create sent with an `Idempotency-Key`: the key, a hash of the validated request,
-- and the task as it was created, so a retry within 24 h gets the original 201 back
-- byte for byte even after the task changed or was deleted. Unique per user and key;
-- each user's own later creates purge the user's keys older than 24 h.
CREATE TABLE idempotency_keys (
  user_id         text        NOT NULL,
  key             text        NOT NULL,
  request_hash    text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  task_id         bigint      NOT NULL,
  title           text        NOT NULL,
  description     text,
  completed       boolean     NOT NULL,
  task_created_at timestamptz NOT NULL,
  task_updated_at timestamptz NOT NULL,
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
  CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);

-- The purge looks up one user's oldest keys.
CREATE INDEX idempotency_keys_user_created_idx ON idempotency_keys (user_id, created_at);

-- A per-user table like `tasks`: the same forced row-level security and policy, and
-- only the privileges the worker's statements need.
GRANT SELECT, INSERT, DELETE ON idempotency_keys TO task_api_user;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_user_isolation ON idempotency_keys
  USING (user_id = current_setting('app.user_id', true))
  WITH CHECK (user_id = current_setting('app.user_id', true));
