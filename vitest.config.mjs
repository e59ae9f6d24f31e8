import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.spec.mjs'],
    // Suites share the local stack's request counters and there are only 2 cores:
    // one file at a time.
    fileParallelism: false,
    // Starting PGlite + Better Auth (or a worker) takes seconds on a small machine.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
