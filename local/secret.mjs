// Better Auth's secret for the local stack: random, never a constant in the source
// (whoever knows it can decrypt the stored signing keys and forge session cookies).
// Kept in a file in the git-ignored data folder so that a persistent database's keys
// stay readable across restarts; without a file, random for this process only.

import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const MIN_LENGTH = 32;

/** A new random secret (256 bits, base64url). */
export function randomSecret() {
  return randomBytes(32).toString('base64url');
}

/**
 * The secret stored in `file`, created (mode 0600) on first use. Two processes
 * starting at once agree on one value: it is written to a private temp file and
 * hard-linked into place, which fails if another process got there first.
 * @returns {{ secret: string, created: boolean }}
 */
export function loadOrCreateSecret(file) {
  const existing = readSecret(file);
  if (existing !== null) return { secret: existing, created: false };

  mkdirSync(dirname(file), { recursive: true });
  const secret = randomSecret();
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, file);
    return { secret, created: true };
  } catch (err) {
    if (err?.code !== 'EEXIST') throw err;
    const winner = readSecret(file);
    if (winner === null) throw new Error(`${file} exists but holds no usable secret`);
    return { secret: winner, created: false };
  } finally {
    rmSync(temp, { force: true });
  }
}

function readSecret(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err?.code === 'ENOENT') return null;
    throw err;
  }
  const secret = text.trim();
  // A truncated or hand-edited file must not silently weaken the secret.
  if (secret.length < MIN_LENGTH) {
    throw new Error(`${file} holds a secret shorter than ${MIN_LENGTH} characters; delete it to get a new one`);
  }
  return secret;
}
