-- Tasks, one row per to-do item, always owned by one user (the verified JWT `sub`).
-- Constraints are named so the worker can map a check violation (SQLSTATE 23514,
-- `constraint` in the error) to the field it concerns.
-- The API trims titles before storing them; the database only enforces lengths.

CREATE TABLE tasks (
  id          bigint GENERATED ALWAYS AS IDENTITY,
  user_id     text        NOT NULL,
  title       text        NOT NULL,
  description text,
  completed   boolean     NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tasks_pkey PRIMARY KEY (id),
  CONSTRAINT tasks_user_id_length CHECK (char_length(user_id) BETWEEN 1 AND 255),
  CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
  CONSTRAINT tasks_description_length CHECK (char_length(description) <= 1000)
);

-- Every list query is per user; these serve its sort orders and keyset pagination
-- (the id breaks ties so pages are stable).
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at DESC, id DESC);
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at DESC, id DESC);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, title, id);
-- Status filters (?status=pending|completed) in the default created_at order.
CREATE INDEX tasks_user_completed_created_idx ON tasks (user_id, completed, created_at DESC, id DESC);
