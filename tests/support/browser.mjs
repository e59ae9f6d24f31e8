// Debian's Chromium driven by playwright-core, for the demo page's browser test, and
// a watch on each page: what it logged as errors, which worker answers it got, and
// how many tokens it fetched from Better Auth.

import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Where Debian's package puts the browser (scripts/bootstrap.sh installs it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const chromiumInstalled = () => existsSync(CHROMIUM_PATH);

/**
 * Headless Chromium with no display and no network beyond loopback. Playwright gives
 * each launch a fresh, empty --user-data-dir of its own (it refuses one in `args`) and
 * deletes it on close. Without the background-networking flags Chromium keeps trying
 * Google's hosts, which this machine's closed network refuses.
 */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Records what `page` does: `errors` (console errors, uncaught exceptions, failed
 * requests — a CORS refusal shows up as both a console error and a failed request),
 * `workerReplies` ({ method, path, status, allowOrigin }) for requests to
 * `workerOrigin`, and `tokenFetches` (requests to Better Auth's /api/auth/token).
 */
export function watchPage(page, workerOrigin) {
  const watch = { errors: [], workerReplies: [], tokenFetches: 0 };
  page.on('console', (msg) => {
    if (msg.type() === 'error') watch.errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => watch.errors.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) => watch.errors.push(`failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/api/auth/token') watch.tokenFetches += 1;
  });
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.origin !== workerOrigin || res.request().method() === 'OPTIONS') return;
    watch.workerReplies.push({
      method: res.request().method(),
      path: url.pathname + url.search,
      status: res.status(),
      allowOrigin: res.headers()['access-control-allow-origin'] ?? null,
    });
  });
  /**
   * The errors other than the browser's "Failed to load resource … status of N" for
   * the statuses a test provoked on purpose.
   */
  watch.unexpectedErrors = (expectedStatuses = []) =>
    watch.errors.filter((line) => {
      const m = line.match(/Failed to load resource: the server responded with a status of (\d+)/);
      return !(m && expectedStatuses.includes(Number(m[1])));
    });
  return watch;
}
