// The hand-written source of src/api/openapi.json; scripts/openapi.mjs turns it into the
// document (`npm run openapi`). Edit here, never the JSON. Only the `/api/tasks…` paths
// are written: the generator derives their `/api/{user_id}/tasks…` twins.
//
// Shared pieces live in the tables below, so a new one is one line in its table plus its
// name where it is used:
//   a response header   → HEADERS, then its name in a response's `headers`, in
//                         PROBLEMS, or in PROTECTED_HEADERS (every protected success);
//   a status            → PROBLEMS, then its number in an operation's `errors`
//                         (a bodiless one such as 304 ends its line with `false`);
//   a request header    → PARAMETERS (with `header(...)`), then its name in `params`.

const ref = (kind, name) => ({ $ref: `#/components/${kind}/${name}` });
const string = { type: 'string' };

/** Response headers, by name; inlined where a response lists them. */
export const HEADERS = {
  Link: { description: '`<…>; rel="next"` when more tasks follow', schema: string },
  Location: { description: '/api/tasks/{id}', schema: string },
  'WWW-Authenticate': {
    description: '`Bearer realm="api"`, plus `error="invalid_token"` and `error_description` when a token was refused',
    schema: string,
  },
  'Retry-After': { description: 'Seconds', schema: { type: 'integer' } },
  ETag: { description: 'The task\'s strong entity tag: its `version` in quotes, e.g. `"3"`', schema: string },
  'Cache-Control': {
    description: '`no-store` on every `/api/…` response, except `private, no-cache` on a single task with an `ETag` (and its 304)',
    schema: string,
  },
  'Server-Timing': { description: '`auth;dur=<ms>` and, when the database was called, `db;dur=<ms>`', schema: string },
};

/**
 * Shared responses: [status, component name, description, response headers, has a
 * problem+json body (default true)]. Ascending.
 */
export const PROBLEMS = [
  [304, 'NotModified', 'If-None-Match names the current version; no body', ['ETag', 'Cache-Control'], false],
  [400, 'BadRequest', 'Malformed JSON, or a malformed If-Match / If-None-Match (named in `detail`)'],
  [401, 'Unauthorized', 'Missing or invalid token', ['WWW-Authenticate']],
  [403, 'Forbidden', 'The path names another user'],
  [404, 'NotFound', 'No such task for this user'],
  [409, 'QuotaExceeded', 'The user already holds TASKS_PER_USER_MAX tasks'],
  [412, 'PreconditionFailed', 'If-Match names no current version; nothing was written. ETag is the current one', ['ETag']],
  [413, 'PayloadTooLarge', 'Body over 16 KiB'],
  [415, 'UnsupportedMediaType', 'Body without Content-Type: application/json'],
  [422, 'ValidationError', 'Invalid input; `errors` names each field (also `Idempotency-Key`)'],
  [429, 'TooManyRequests', "The user's writes are over the rate limit", ['Retry-After']],
  [500, 'ServerError', 'Server misconfigured or failed; no internals are shown'],
  [503, 'Unavailable', 'Database or key server unavailable', ['Retry-After']],
];

/** Response headers on the success response of every protected operation. */
export const PROTECTED_HEADERS = ['Cache-Control', 'Server-Timing'];
/** Every protected operation can answer these, after its own errors. */
export const PROTECTED_ERRORS = [401, 500, 503];
/** Added to each `/api/{user_id}/tasks…` twin, after everything else. */
export const FOR_USER_ERROR = 403;
/** Errors of any operation that reads a JSON body. */
const BODY_ERRORS = [400, 413, 415, 422];

/** A request-header parameter for PARAMETERS, e.g. `ifMatch: header('If-Match', '…')`. */
export const header = (name, description, schema = string) => ({ name, in: 'header', description, schema });

/** `*` or a list of entity tags (RFC 9110 §8.8.3; obs-text left out); empty = absent. */
const ENTITY_TAGS = {
  type: 'string',
  pattern: '^[ \\t]*((\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)[ \\t]*)?$',
};

export const PARAMETERS = {
  userId: {
    name: 'user_id',
    in: 'path',
    required: true,
    description: "Must equal the token's `sub` (else 403).",
    schema: string,
  },
  taskId: {
    name: 'id',
    in: 'path',
    required: true,
    description: 'Task id; anything but a positive integer is answered 404.',
    schema: { type: 'integer', minimum: 1, format: 'int64' },
  },
  status: {
    name: 'status',
    in: 'query',
    schema: { type: 'string', enum: ['all', 'pending', 'completed'], default: 'all' },
  },
  sort: {
    name: 'sort',
    in: 'query',
    schema: { type: 'string', enum: ['created_at', 'updated_at', 'title'], default: 'created_at' },
  },
  order: { name: 'order', in: 'query', schema: { type: 'string', enum: ['asc', 'desc'], default: 'desc' } },
  q: {
    name: 'q',
    in: 'query',
    description: 'Case-insensitive substring of title or description.',
    schema: { type: 'string', maxLength: 200, pattern: '^[^\\u0000]*$' },
  },
  limit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
  ifMatch: header(
    'If-Match',
    'Write only if the task is at one of these versions (`"3"`; strong comparison, weak tags never match), or exists (`*`); else 412. Malformed: 400.',
    ENTITY_TAGS,
  ),
  ifNoneMatch: header(
    'If-None-Match',
    'Answer 304 if the task is at one of these versions (weak comparison), or exists (`*`). Malformed: 400.',
    ENTITY_TAGS,
  ),
  idempotencyKey: header(
    'Idempotency-Key',
    'Makes a create safe to retry: within 24 h the same key and body replay the original 201; another body is a 422.',
    { type: 'string', minLength: 1, maxLength: 255, pattern: '^[!-~]+$' },
  ),
  cursor: {
    name: 'cursor',
    in: 'query',
    description: 'Opaque; take it from the `Link: rel="next"` header.',
    schema: string,
  },
};

// What the worker accepts, as JSON Schema can say it: no NUL (Postgres text cannot hold
// one), and a title with something besides white space (the worker trims it first).
const NO_NUL = '^[^\\u0000]*$';
const title = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000]*\\S[^\\u0000]*$',
  description: 'Trimmed; 1–200 characters.',
};
const description = { type: ['string', 'null'], maxLength: 1000, pattern: NO_NUL };
const timestamp = { type: 'string', format: 'date-time' };
const object = (required, properties, extra = {}) => ({
  type: 'object',
  additionalProperties: false,
  ...extra,
  ...(required && { required }),
  properties,
});

export const SCHEMAS = {
  Task: object(['id', 'user_id', 'title', 'description', 'completed', 'version', 'created_at', 'updated_at'], {
    id: { type: 'integer', format: 'int64' },
    user_id: string,
    title: { type: 'string', minLength: 1, maxLength: 200 },
    description,
    completed: { type: 'boolean' },
    version: { type: 'integer', minimum: 1, description: '1 on create, +1 on every change; the ETag is `"<version>"`' },
    created_at: timestamp,
    updated_at: timestamp,
  }),
  TaskCreate: object(['title'], {
    title,
    description,
    completed: { type: 'boolean', default: false },
  }),
  TaskReplace: object(['title', 'description', 'completed'], {
    title,
    description,
    completed: { type: 'boolean' },
  }),
  TaskPatch: object(null, { title, description, completed: { type: 'boolean' } }, { minProperties: 1 }),
  TaskComplete: object(['completed'], { completed: { type: 'boolean' } }),
  Me: { type: 'object', required: ['user_id'], properties: { user_id: string, email: string, name: string } },
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail'],
    properties: {
      type: { type: 'string', format: 'uri-reference' },
      title: string,
      status: { type: 'integer' },
      detail: string,
      errors: {
        type: 'array',
        items: {
          type: 'object',
          required: ['field', 'message'],
          properties: { field: string, message: string },
        },
      },
    },
  },
};

const task = ref('schemas', 'Task');
const taskList = { type: 'array', items: task };
const updated = { status: 200, description: 'The updated task', schema: task, headers: ['ETag'] };
/** Errors of every write: the rate limit. */
const WRITE_ERRORS = [429];

/**
 * Operations by path and method. Fields: id (operationId), summary, tag, public (no
 * token), params (names in PARAMETERS; omitted = no `parameters` key), body (schema name,
 * `optional` for a body that may be absent), ok (the success response), errors (statuses
 * in PROBLEMS, listed before PROTECTED_ERRORS).
 */
export const PATHS = {
  '/health': {
    get: {
      id: 'health',
      summary: 'Liveness (no auth, no database)',
      tag: 'meta',
      public: true,
      ok: {
        status: 200,
        description: 'OK',
        schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
      },
    },
  },
  '/openapi.json': {
    get: {
      id: 'openapi',
      summary: 'This document',
      tag: 'meta',
      public: true,
      ok: { status: 200, description: 'OpenAPI 3.1 document', schema: { type: 'object' } },
    },
  },
  '/api/me': {
    get: {
      id: 'me',
      summary: 'The verified identity',
      tag: 'identity',
      ok: { status: 200, description: 'Claims of the verified token', schema: ref('schemas', 'Me') },
    },
  },
  '/api/tasks': {
    get: {
      id: 'listTasks',
      summary: "List the caller's tasks",
      params: ['status', 'sort', 'order', 'q', 'limit', 'cursor'],
      ok: { status: 200, description: 'A page of tasks, newest first by default', schema: taskList, headers: ['Link'] },
      errors: [422],
    },
    post: {
      id: 'createTask',
      summary: 'Create a task',
      params: ['idempotencyKey'],
      body: 'TaskCreate',
      ok: { status: 201, description: 'Created (or replayed for a repeated Idempotency-Key)', schema: task, headers: ['Location', 'ETag'] },
      errors: [...BODY_ERRORS, 409, ...WRITE_ERRORS],
    },
  },
  '/api/tasks/{id}': {
    get: {
      id: 'getTask',
      summary: 'Get one task',
      params: ['taskId', 'ifNoneMatch'],
      ok: { status: 200, description: 'The task', schema: task, headers: ['ETag'] },
      errors: [304, 400, 404],
    },
    put: {
      id: 'replaceTask',
      summary: 'Replace a task (every field required)',
      params: ['taskId', 'ifMatch'],
      body: 'TaskReplace',
      ok: updated,
      errors: [...BODY_ERRORS, 404, 412, ...WRITE_ERRORS],
    },
    patch: {
      id: 'updateTask',
      summary: 'Update some fields of a task',
      params: ['taskId', 'ifMatch'],
      body: 'TaskPatch',
      ok: updated,
      errors: [...BODY_ERRORS, 404, 412, ...WRITE_ERRORS],
    },
    delete: {
      id: 'deleteTask',
      summary: 'Delete a task',
      params: ['taskId', 'ifMatch'],
      ok: { status: 204, description: 'Deleted' },
      errors: [400, 404, 412, ...WRITE_ERRORS],
    },
  },
  '/api/tasks/{id}/complete': {
    patch: {
      id: 'completeTask',
      summary: 'Toggle completion, or set it with {"completed": bool}',
      params: ['taskId', 'ifMatch'],
      body: 'TaskComplete',
      optional: true,
      ok: updated,
      errors: [...BODY_ERRORS, 404, 412, ...WRITE_ERRORS],
    },
  },
};

/** The prefix whose paths are also served as `/api/{user_id}/tasks…`. */
export const MIRRORED_PREFIX = '/api/tasks';
export const MIRROR_PREFIX = '/api/{user_id}/tasks';

export const INFO = {
  title: 'Task API',
  version: '1.0.0',
  description:
    "Tasks of the authenticated user. Authenticate with a Better Auth JWT as `Authorization: Bearer <jwt>`; every task route is scoped to the token's `sub`. Errors are RFC 9457 problem documents.",
};

export const TAGS = ['tasks', 'identity', 'meta'];

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "Better Auth JWT (EdDSA, ES256, ES512, RS256, PS256 via the issuer's JWKS; HS256 with a shared secret when configured).",
  },
};
