// The shutdown steps of a bench script (workers, the stack, scratch databases): each
// registered as its thing starts, run last first at the end, on SIGINT/SIGTERM, or on
// a hard stop. A failing step is logged and the others still run, so nothing is left
// behind.

/**
 * `name` prefixes the log lines. Returns `onCleanup(fn)` to register a step, `mark()`
 * (the number registered so far) and `cleanup(mark = 0)`, which runs the steps
 * registered after `mark`.
 */
export function shutdownSteps(name, log = (...args) => console.error(...args)) {
  const steps = [];
  async function cleanup(mark = 0) {
    while (steps.length > mark) {
      try {
        await steps.pop()();
      } catch (err) {
        log(`${name}: cleanup step failed: ${err?.message ?? err}`);
      }
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      log(`${name}: ${signal}, shutting down`);
      cleanup().finally(() => process.exit(130));
    });
  }
  return { onCleanup: (fn) => steps.push(fn), mark: () => steps.length, cleanup };
}
