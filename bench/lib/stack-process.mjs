// Runs one local stack (local/stack.mjs) in a child process of the benchmark, so the
// SQL endpoint's work (PGlite runs in the stack's own thread) never stalls the load
// client's event loop. Started by startStackProcess() in stack.mjs; talks over IPC:
// it sends { url, sqlUrl } once ready, and closes on the message 'close' or when the
// parent goes away.

import { startStack } from '../../local/stack.mjs';
import { OWNER_ROLE } from '../../local/owner.mjs';

const { databaseUrl } = JSON.parse(process.env.BENCH_STACK_OPTIONS || '{}');

let stack;
let closing = null;
function close() {
  closing ??= (async () => {
    try {
      await stack?.close();
    } finally {
      process.exit(0);
    }
  })();
  return closing;
}

process.on('message', (message) => {
  if (message === 'close') void close();
});
process.on('disconnect', () => void close());

try {
  stack = await startStack({ host: '127.0.0.1', port: 0, databaseUrl: databaseUrl || undefined, dataDir: undefined });
  if (!databaseUrl) {
    // As on Neon, whose owner role `neondb_owner` has BYPASSRLS: the peer, written the
    // usual way, reads as the owner; our worker still switches to its restricted role
    // in every transaction, so it pays for row-level security and the peer does not.
    // (A server's scratch database is owned by the superuser, which bypasses anyway.)
    const admin = await stack.backend.admin();
    try {
      await admin.query(`ALTER ROLE ${OWNER_ROLE} BYPASSRLS`);
    } finally {
      admin.release();
    }
  }
  process.send({ url: stack.url, sqlUrl: stack.sqlUrl });
} catch (err) {
  // The stack's errors never carry the connection string.
  console.error(`bench stack: failed to start: ${err?.message ?? err}`);
  process.exit(1);
}
