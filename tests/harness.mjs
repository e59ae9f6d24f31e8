// The one test harness: every suite imports from here. Each job lives in one module
// of tests/support/; the benchmark imports those modules directly (it has no vitest).
//
//   support/worker.mjs       the built wasm in workerd via Miniflare
//     startWorker(bindings)              → { fetch, logs, requestLog, mf, close }
//     waitForRequestLog(worker, count)   → the request log once it has `count` lines
//   support/bindings.mjs     what a worker under test is configured with
//     authBindings(extra), stackBindings(stack, extra), TEST_ISSUER, TEST_AUDIENCE, TEST_DB_PASSWORD
//   support/stack.mjs        the local stack (SQL endpoint + Better Auth, see local/)
//     startLocalStack(opts)              → the stack of local/stack.mjs, on TEST_BACKEND
//     signUpAndGetToken(stack, opts)     → { token, userId, email, cookie }
//     taskDb(stack)                      → direct reads of its `tasks` table (rows, row, count, query)
//     sqlDelta(stack, fn)                → { result, calls }: SQL requests made during fn
//     backendName()                      → 'pglite' | 'postgres'
//   support/database.mjs     scratch databases on a PostgreSQL server
//   support/tokens.mjs       signing keys and tokens
//     generateSigningKey(alg, opts)      → { alg, kid, privateKey, publicKey, jwk }
//     hmacKey(secret), mintToken(key, claims, header), signCompact(key, header, payload)
//     validClaims(overrides), nowSeconds(), b64url(data)
//   support/jwks-server.mjs  startJwksServer({ keys, cacheControl }) with switchable faults
//   support/sql-double.mjs   startSqlDouble({ forwardTo }): a recording stand-in SQL endpoint
//   support/http.mjs         requests read as { status, headers, text, body }
//     api(worker, token, opts)           → call(method, path, body?, init?)
//     me(worker, tokenOrHeaders), readReply(response), parseJsonOrNull(text), statusCounts(replies)
//     rawHttp(worker, request), closedPortUrl(pathname)
//   support/per-test.mjs     perTest(ctx) → { jwksServer(opts), worker(bindings) }, closed when the test ends
//   support/expect.mjs       expectProblem(res, status), expectFields(res, fields), expectUnavailable(res, what)
//   support/promises.mjs     sleep(ms), catchError(promise)
//
// Backend by environment: TEST_BACKEND=pglite (default; in-memory PGlite) or
// TEST_BACKEND=postgres with TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test).

export { authBindings, stackBindings, TEST_AUDIENCE, TEST_DB_PASSWORD, TEST_ISSUER } from './support/bindings.mjs';
export { adminQuery, createScratchDatabase } from './support/database.mjs';
export { expectFields, expectProblem, expectUnavailable } from './support/expect.mjs';
export { api, closedPortUrl, me, parseJsonOrNull, rawHttp, readReply, statusCounts } from './support/http.mjs';
export { startJwksServer } from './support/jwks-server.mjs';
export { perTest } from './support/per-test.mjs';
export { catchError, sleep } from './support/promises.mjs';
export { startSqlDouble } from './support/sql-double.mjs';
export { backendName, signUpAndGetToken, sqlDelta, startLocalStack, taskDb } from './support/stack.mjs';
export { b64url, generateSigningKey, hmacKey, mintToken, nowSeconds, signCompact, validClaims } from './support/tokens.mjs';
export { compatibilityDate, startWorker, waitForRequestLog } from './support/worker.mjs';
