// Generates src/api/openapi.json from scripts/openapi.source.mjs.
//
//   npm run openapi              write the document
//   npm run openapi -- --check   exit 1 if the committed document differs
//
// tests/openapi.spec.mjs imports `render` and fails when the committed file is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as source from './openapi.source.mjs';

export const OUTPUT = fileURLToPath(new URL('../src/api/openapi.json', import.meta.url));

const ref = (kind, name) => ({ $ref: `#/components/${kind}/${name}` });
const jsonBody = (schema) => ({ 'application/json': { schema } });

const problemName = new Map(source.PROBLEMS.map(([status, name]) => [status, name]));
function problemRef(status) {
  const name = problemName.get(status);
  if (!name) throw new Error(`status ${status} is not in PROBLEMS`);
  return ref('responses', name);
}

function responseHeaders(names) {
  return Object.fromEntries(
    names.map((name) => {
      if (!source.HEADERS[name]) throw new Error(`header ${name} is not in HEADERS`);
      return [name, source.HEADERS[name]];
    }),
  );
}

function success({ description, schema, headers = [] }, extraHeaders) {
  const names = [...headers, ...extraHeaders];
  return {
    description,
    ...(schema && { content: jsonBody(schema) }),
    ...(names.length > 0 && { headers: responseHeaders(names) }),
  };
}

// Responses are Maps: status codes are integer-like keys, which a plain object would
// reorder, and the order is part of the document.
function operation(op) {
  const errors = [...(op.errors ?? [])].sort((a, b) => a - b);
  if (!op.public) errors.push(...source.PROTECTED_ERRORS);
  return {
    operationId: op.id,
    summary: op.summary,
    tags: [op.tag ?? 'tasks'],
    security: op.public ? [] : [{ bearerAuth: [] }],
    ...(op.params && {
      parameters: op.params.map((name) => {
        if (!source.PARAMETERS[name]) throw new Error(`parameter ${name} is not in PARAMETERS`);
        return ref('parameters', name);
      }),
    }),
    ...(op.body && {
      requestBody: { required: !op.optional, content: jsonBody(ref('schemas', op.body)) },
    }),
    responses: new Map([
      [String(op.ok.status), success(op.ok, op.public ? [] : source.PROTECTED_HEADERS)],
      ...errors.map((status) => [String(status), problemRef(status)]),
    ]),
  };
}

/** The `/api/{user_id}/tasks…` twin of an operation: its own id, the path user, a 403. */
function forUser(op) {
  return {
    ...op,
    operationId: `${op.operationId}ForUser`,
    parameters: [ref('parameters', 'userId'), ...(op.parameters ?? [])],
    responses: new Map([...op.responses, [String(source.FOR_USER_ERROR), problemRef(source.FOR_USER_ERROR)]]),
  };
}

/** The OpenAPI document as a value (objects and Maps, in document order). */
export function build() {
  const paths = {};
  for (const [path, item] of Object.entries(source.PATHS)) {
    paths[path] = Object.fromEntries(Object.entries(item).map(([method, op]) => [method, operation(op)]));
  }
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith(source.MIRRORED_PREFIX)) continue;
    const twin = source.MIRROR_PREFIX + path.slice(source.MIRRORED_PREFIX.length);
    paths[twin] = Object.fromEntries(Object.entries(item).map(([method, op]) => [method, forUser(op)]));
  }
  return {
    openapi: '3.1.0',
    info: source.INFO,
    servers: [{ url: '/' }],
    tags: source.TAGS.map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: source.SECURITY_SCHEMES,
      parameters: source.PARAMETERS,
      schemas: source.SCHEMAS,
      responses: Object.fromEntries(
        source.PROBLEMS.map(([, name, description, headers, problemBody = true]) => [
          name,
          {
            description,
            ...(problemBody && {
              content: { 'application/problem+json': { schema: ref('schemas', 'Problem') } },
            }),
            ...(headers && { headers: responseHeaders(headers) }),
          },
        ]),
      ),
    },
  };
}

/**
 * JSON with a one-space indent and every member on its own line (the layout of Python's
 * `json.dumps(indent=1, ensure_ascii=False)`, which wrote the file before this script),
 * keeping the order of Maps.
 */
export function serialize(value, depth = 0) {
  const pad = ' '.repeat(depth + 1);
  const close = ' '.repeat(depth);
  const isArray = Array.isArray(value);
  if (value instanceof Map) value = [...value.entries()];
  else if (Array.isArray(value)) value = value.map((item) => [null, item]);
  else if (value && typeof value === 'object') value = Object.entries(value);
  else {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new Error(`${value}: only integers are written (float formatting differs between serializers)`);
    }
    if (value === undefined || typeof value === 'function') throw new Error('not JSON: ' + typeof value);
    return JSON.stringify(value);
  }
  const [open, end] = isArray ? ['[', ']'] : ['{', '}'];
  if (value.length === 0) return open + end;
  const members = value.map(
    ([key, item]) => pad + (isArray ? '' : JSON.stringify(key) + ': ') + serialize(item, depth + 1),
  );
  return `${open}\n${members.join(',\n')}\n${close}${end}`;
}

/** The document's text, exactly as committed. */
export const render = () => serialize(build()) + '\n';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = render();
  if (process.argv.includes('--check')) {
    if (readFileSync(OUTPUT, 'utf8') !== text) {
      console.error('src/api/openapi.json is stale: run `npm run openapi`');
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
  }
}
