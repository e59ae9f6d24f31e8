// Servers and workers that live for one test: closed when the test that started them
// ends, so tests running side by side (describe.concurrent) cannot close each
// other's, and every cold-cache test gets a cold cache.

import { startJwksServer } from './jwks-server.mjs';
import { startWorker } from './worker.mjs';

/** Starters bound to the test context `ctx` (vitest's second `it` argument). */
export function perTest({ onTestFinished }) {
  return {
    async jwksServer(options) {
      const server = await startJwksServer(options);
      onTestFinished(() => server.close());
      return server;
    },
    async worker(bindings) {
      const w = await startWorker(bindings);
      onTestFinished(() => w.close());
      return w;
    },
  };
}
