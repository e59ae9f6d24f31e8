// src/api/openapi.json is what scripts/openapi.mjs writes from its source, and the worker
// serves exactly that. Then the document against the router that actually runs: every
// documented operation is served (401 without a token when protected, 200 when public —
// never 404/405), every other method on a documented path is a 405 whose Allow is the
// documented set, and paths the document does not name are 404.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT, render } from '../scripts/openapi.mjs';
import { api, authBindings, hmacKey, mintToken, startWorker } from './harness.mjs';

const SECRET = 'openapi-suite-secret-of-at-least-32-bytes';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// What can be sent through fetch (TRACE and CONNECT cannot), plus one from outside
// RFC 9110 that workerd accepts.
const PROBE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'PURGE'];

let worker;
let doc;
let res;
let anonymous;

/** Every (path, method, operation) the document declares. */
function operations() {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([key]) => HTTP_METHODS.includes(key))
      .map(([method, op]) => [path, method.toUpperCase(), op]),
  );
}

function documentedMethods(path) {
  return Object.keys(doc.paths[path])
    .filter((key) => HTTP_METHODS.includes(key))
    .map((m) => m.toUpperCase())
    .sort();
}

/** A concrete request path for a template. */
const concrete = (template) => template.replace('{user_id}', 'some-user').replace('{id}', '1');

function resolve(node) {
  if (node && typeof node.$ref === 'string') {
    const target = node.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((at, key) => at?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    return resolve(target);
  }
  return node;
}

const isPublic = (op) => Array.isArray(op.security) && op.security.length === 0;

describe('the generator (scripts/openapi.mjs)', () => {
  it('wrote the committed src/api/openapi.json: run `npm run openapi` after editing its source', () => {
    // Compared as text: the file is served byte for byte, so layout drift counts too.
    expect(readFileSync(OUTPUT, 'utf8')).toBe(render());
  });
});

describe('GET /openapi.json', () => {
  beforeAll(async () => {
    worker = await startWorker(authBindings({ AUTH_JWT_SECRET: SECRET }));
    anonymous = api(worker, null);
    res = await anonymous('GET', '/openapi.json');
    doc = res.body;
  });

  afterAll(() => worker?.close());

  it('serves the generated document byte for byte', () => {
    expect(res.text).toBe(render());
  });

  describe('the document', () => {
    it('is served as JSON without a token: OpenAPI 3.1.0 with info and paths', () => {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/(vnd\.oai\.openapi\+)?json/);
      expect(doc).not.toBeNull();
      expect(doc.openapi).toBe('3.1.0');
      expect(typeof doc.info?.title).toBe('string');
      expect(typeof doc.info?.version).toBe('string');
      expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    });

    it('documents the API of the spec, in both path forms', () => {
      const declared = operations().map(([path, method]) => `${method} ${path}`).sort();
      const expected = [
        'GET /health',
        'GET /openapi.json',
        'GET /api/me',
        ...['/api/tasks', '/api/{user_id}/tasks'].flatMap((base) => [
          `GET ${base}`,
          `POST ${base}`,
          `GET ${base}/{id}`,
          `PUT ${base}/{id}`,
          `PATCH ${base}/{id}`,
          `DELETE ${base}/{id}`,
          `PATCH ${base}/{id}/complete`,
        ]),
      ].sort();
      expect(declared).toEqual(expected);
    });

    it('every $ref resolves', () => {
      const refs = [];
      (function walk(node) {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') {
          if (typeof node.$ref === 'string') refs.push(node.$ref);
          Object.values(node).forEach(walk);
        }
      })(doc);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(resolve({ $ref: ref }), ref).toBeDefined();
    });

    it('declares every path parameter of every templated path', () => {
      for (const [path, method, op] of operations()) {
        const names = [...(doc.paths[path].parameters ?? []), ...(op.parameters ?? [])]
          .map(resolve)
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        const wanted = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        expect(names, `${method} ${path}`).toEqual(wanted);
      }
    });

    it('only /health and /openapi.json are public; everything else needs the bearer scheme', () => {
      const scheme = doc.components.securitySchemes;
      for (const [path, method, op] of operations()) {
        const open = path === '/health' || path === '/openapi.json';
        expect(isPublic(op), `${method} ${path}`).toBe(open);
        if (!open) {
          for (const requirement of op.security) {
            for (const name of Object.keys(requirement)) {
              expect(scheme[name], name).toMatchObject({ type: 'http', scheme: 'bearer' });
            }
          }
          expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
        }
      }
    });

    it('the task schemas match the contract: eight fields out (with version), three writable in', () => {
      const schemas = doc.components.schemas;
      expect(Object.keys(schemas.Task.properties).sort()).toEqual(
        ['completed', 'created_at', 'description', 'id', 'title', 'updated_at', 'user_id', 'version'].sort(),
      );
      expect([...schemas.Task.required].sort()).toEqual(Object.keys(schemas.Task.properties).sort());
      const writable = ['completed', 'description', 'title'];
      for (const [path, method, op] of operations()) {
        const body = op.requestBody && resolve(op.requestBody).content?.['application/json']?.schema;
        if (!body) continue;
        const schema = resolve(body);
        expect(schema.additionalProperties, `${method} ${path}`).toBe(false);
        for (const name of Object.keys(schema.properties)) expect(writable, `${method} ${path}`).toContain(name);
      }
    });
  });

  describe('the router serves what is documented', () => {
    it('every documented operation answers 200 (public) or 401 (protected) without a token — never 404/405', async () => {
      for (const [path, method, op] of operations()) {
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? { title: 'x' } : undefined;
        const reply = await anonymous(method, concrete(path), body);
        const what = `${method} ${path}`;
        expect([404, 405], what).not.toContain(reply.status);
        if (isPublic(op)) {
          expect(reply.status, what).toBe(200);
        } else {
          expect(reply.status, what).toBe(401);
          expect(reply.headers.get('www-authenticate'), what).toBe('Bearer realm="api"');
        }
        expect(Object.keys(op.responses), what).toContain(String(reply.status));
      }
    });

    it('the public operations answer what they document', async () => {
      const health = await anonymous('GET', '/health');
      expect(health.body).toEqual({ status: 'ok' });
      const again = await anonymous('GET', '/openapi.json');
      expect(again.text).toBe(res.text);
    });

    it('undocumented methods on documented paths are 405 with Allow = the documented methods', async () => {
      for (const path of Object.keys(doc.paths)) {
        const allowed = documentedMethods(path);
        for (const method of PROBE_METHODS.filter((m) => !allowed.includes(m))) {
          const reply = await worker.fetch(concrete(path), { method, headers: { authorization: 'Bearer x.y.z' } });
          const what = `${method} ${path}`;
          expect(reply.status, what).toBe(405);
          const allow = (reply.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();
          expect(allow, what).toEqual(allowed);
          await reply.arrayBuffer();
        }
      }
    });

    it('a method the router does not know is a 405, never served as GET', async () => {
      const token = await mintToken(hmacKey(SECRET), { sub: 'some-user' });
      const authed = api(worker, token);
      expect((await authed('GET', '/api/me')).status).toBe(200);
      // Methods workerd itself accepts (it answers 501 to ones it does not know at all).
      for (const method of ['PURGE', 'PROPFIND', 'MKCOL']) {
        for (const path of ['/health', '/api/me', '/api/tasks']) {
          const reply = await authed(method, path);
          expect(reply.status, `${method} ${path}`).toBe(405);
          expect(reply.headers.get('allow'), `${method} ${path}`).toBe(documentedMethods(path).join(', '));
        }
      }
    });

    it('OPTIONS (CORS preflight, never documented as an operation) names the same methods in Allow', async () => {
      for (const path of Object.keys(doc.paths)) {
        const reply = await worker.fetch(concrete(path), { method: 'OPTIONS' });
        expect(reply.status, path).toBe(204);
        const allow = (reply.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean).sort();
        expect(allow, path).toEqual(documentedMethods(path));
      }
    });

    it('paths the document does not name are 404 for every method', async () => {
      const undocumented = [
        '/',
        '/api',
        '/api/',
        '/api/task',
        '/api/users',
        '/api/tasks/1/complete/now',
        '/api/tasks/1/uncomplete',
        '/api/some-user/tasks/1/extra',
        '/api/some-user/me',
        '/api/some-user',
        '/health/live',
        '/openapi.yaml',
        '/docs',
        '/sql',
        '/api/auth/jwks',
      ];
      for (const path of undocumented) {
        for (const method of ['GET', 'POST', 'DELETE']) {
          const reply = await anonymous(method, path);
          expect(reply.status, `${method} ${path}`).toBe(404);
          expect(reply.headers.get('content-type')).toBe('application/problem+json');
        }
      }
    });
  });
});
