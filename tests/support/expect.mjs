// Assertions on the worker's error answers (docs/api.md problem+json), shared by the
// suites. Each takes a reply read by readReply/api/me/rawHttp ({ status, headers, body }).

import { expect } from 'vitest';

/** A problem+json answer with this status and the members every problem has; its body. */
export function expectProblem(res, status) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  return res.body;
}

/** A 422 whose `errors` name exactly these fields (in any order), each with a message. */
export function expectFields(res, fields) {
  const body = expectProblem(res, 422);
  expect(Array.isArray(body.errors)).toBe(true);
  for (const e of body.errors) {
    expect(typeof e.field).toBe('string');
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
  }
  expect(body.errors.map((e) => e.field).sort()).toEqual([...fields].sort());
  return body;
}

/**
 * 503 problem+json with a Retry-After of whole seconds and no challenge: a dependency
 * (database, JWKS) failed, which is neither the client's fault nor a 401 (docs/token-policy.md §6, docs/api.md "Errors").
 * `what` labels the assertions.
 */
export function expectUnavailable(res, what) {
  expect(res.status, what ?? res.text).toBe(503);
  expect(res.headers.get('content-type'), what).toBe('application/problem+json');
  expect(res.headers.get('retry-after'), what).toMatch(/^[1-9]\d*$/);
  expect(res.body, what).toMatchObject({ status: 503, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(res.headers.get('www-authenticate'), what).toBeNull();
}
