// The demo page (local/demo/) in a real, headless Chromium: served by a local stack
// from its own origin (Better Auth's cookie first-party there), calling the built
// worker in Miniflare on another origin, so CORS is exercised for real.
//
// Better Auth issues tokens that live TOKEN_SECONDS and the worker allows no clock
// skew, so every test here outlives a few tokens and the page must keep renewing
// them. The worker reaches the stack's SQL endpoint through a double, which the 503
// test switches to resetting connections.
//
// Needs /usr/bin/chromium (scripts/bootstrap.sh installs it as root); skipped, with
// a message, without it. Screenshots go to .scratch/demo/ (git-ignored);
// UPDATE_DOCS_SCREENSHOT=1 also rewrites docs/demo.png.

import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, stackBindings, startLocalStack, startSqlDouble, startWorker, taskDb } from './harness.mjs';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, watchPage } from './support/browser.mjs';
import { ROOT_DIR } from './support/worker.mjs';

const TOKEN_SECONDS = 3;
const ARTIFACTS = join(ROOT_DIR, '.scratch', 'demo');

if (!chromiumInstalled()) {
  console.warn(`demo.spec: ${CHROMIUM_PATH} is missing, browser tests skipped (run scripts/bootstrap.sh as root)`);
}

it('docs/frontend.md shows the demo\'s client module exactly as it ships', () => {
  const module = readFileSync(join(ROOT_DIR, 'local', 'demo', 'auth.mjs'), 'utf8');
  const doc = readFileSync(join(ROOT_DIR, 'docs', 'frontend.md'), 'utf8');
  const fence = '`'.repeat(3);
  expect(doc).toContain(`\n${fence}js\n${module}${fence}\n`);
});

describe.skipIf(!chromiumInstalled())('the demo page in Chromium', () => {
  let stack;
  let sqlDouble;
  let worker;
  let workerOrigin;
  let browser;
  const contexts = [];

  beforeAll(async () => {
    stack = await startLocalStack({
      demo: { workerUrl: () => workerOrigin },
      jwtExpirationSeconds: TOKEN_SECONDS,
      log: () => {},
    });
    sqlDouble = await startSqlDouble({ forwardTo: stack.sqlUrl });
    const pageOrigins = [stack.url, stack.url.replace('127.0.0.1', 'localhost')];
    [worker, browser] = await Promise.all([
      startWorker(
        stackBindings(stack, {
          NEON_SQL_ENDPOINT: sqlDouble.url,
          AUTH_CLOCK_SKEW_SECONDS: '0',
          CORS_ALLOWED_ORIGINS: pageOrigins.join(','),
        }),
      ),
      launchChromium(),
    ]);
    workerOrigin = (await worker.mf.ready).origin;
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await worker?.close();
    await sqlDouble?.close();
    await stack?.close();
  });

  /** A new person's browser (own cookies), or another tab of `context`. */
  async function openPage(context) {
    if (!context) {
      context = await browser.newContext({ viewport: { width: 900, height: 900 } });
      contexts.push(context);
    }
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const watch = watchPage(page, workerOrigin);
    await page.goto(`${stack.url}/`);
    return { context, page, watch };
  }

  async function signUp(page, name) {
    const form = page.locator('#sign-up-form');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Email').fill(`${name.toLowerCase()}-${Date.now()}@example.test`);
    await form.getByLabel('Password').fill('correct-horse-battery');
    await form.getByRole('button', { name: 'Create account' }).click();
    await expect.poll(() => page.locator('#who').textContent()).toContain(name);
    // The first list read follows the sign-in; a test that counts the page's
    // requests must not start before it has landed.
    await expect.poll(() => page.locator('#message-info').textContent()).toMatch(/^\d+ tasks? shown\.$/);
  }

  const newTitle = (page) => page.locator('#new-task').getByLabel('Title', { exact: true });

  async function addTask(page, title, description = '') {
    await newTitle(page).fill(title);
    await page.getByLabel('Description (optional)').fill(description);
    // Enter in the title field submits, as a keyboard user would.
    await newTitle(page).press('Enter');
    await page.getByRole('status').filter({ hasText: `Added “${title.trim()}”` }).waitFor();
  }

  const shownTitles = (page) => page.locator('#tasks li .title').allTextContents();
  const errorText = (page) => page.locator('#message-error').textContent();

  /** The page's message once it appears (role=alert). */
  async function alertSays(page, pattern) {
    await expect.poll(() => errorText(page)).toMatch(pattern);
  }

  /**
   * Freezes the page's clock just after it fetched a new token (reloading the list
   * until it does), so the page believes that token fresh for good: once it has
   * expired, only the worker's 401 can tell the page.
   */
  async function freezeAfterRenewal(page, watch) {
    await page.clock.install();
    const fetched = watch.tokenFetches;
    while (watch.tokenFetches === fetched) {
      await page.getByRole('button', { name: 'Search' }).click();
      await sleep(150);
    }
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 20);
  }

  it('two people: A adds, edits, toggles, deletes, filters, searches and pages; B sees none of it', async () => {
    const a = await openPage();
    await signUp(a.page, 'Ada');
    await expect.poll(() => a.page.locator('#list-status').textContent()).toBe('No tasks match.');

    await addTask(a.page, 'Buy milk', '2 litres');
    await addTask(a.page, 'Write report');
    await addTask(a.page, 'Call the plumber');
    await expect.poll(() => shownTitles(a.page)).toEqual(['Call the plumber', 'Write report', 'Buy milk']);

    // Edit: the inline form, saved with the keyboard.
    await a.page.getByRole('button', { name: 'Edit: Buy milk' }).click();
    const edit = a.page.getByRole('form', { name: 'Edit task: Buy milk' });
    await edit.getByLabel('Title').fill('Buy oat milk');
    await edit.getByLabel('Title').press('Enter');
    await a.page.getByRole('status').filter({ hasText: 'Saved “Buy oat milk”' }).waitFor();

    // Toggle, by keyboard: focus the button and press Space.
    await a.page.getByRole('button', { name: 'Mark as done: Write report' }).focus();
    await a.page.keyboard.press('Space');
    await a.page.getByRole('button', { name: 'Mark as to do: Write report' }).waitFor();
    // The redrawn list keeps the keyboard focus on that task's button.
    await expect
      .poll(() => a.page.evaluate(() => document.activeElement?.getAttribute('aria-label')))
      .toBe('Mark as to do: Write report');

    await a.page.getByRole('button', { name: 'Delete: Call the plumber' }).click();
    await a.page.getByRole('status').filter({ hasText: 'Deleted “Call the plumber”' }).waitFor();
    await expect.poll(() => shownTitles(a.page)).toEqual(['Write report', 'Buy oat milk']);

    const rows = (await taskDb(stack).rows()).filter((r) => ['Write report', 'Buy oat milk', 'Call the plumber'].includes(r.title));
    expect(rows.map((r) => [r.title, r.completed, r.description]).sort()).toEqual([
      ['Buy oat milk', false, '2 litres'],
      ['Write report', true, null],
    ]);

    // Status filter, search, sort.
    await a.page.getByLabel('Show').selectOption({ label: 'done' });
    await expect.poll(() => shownTitles(a.page)).toEqual(['Write report']);
    await a.page.getByLabel('Show').selectOption({ label: 'to do' });
    await expect.poll(() => shownTitles(a.page)).toEqual(['Buy oat milk']);
    await a.page.getByLabel('Show').selectOption({ label: 'all' });
    await a.page.getByLabel('Search').fill('OAT');
    await a.page.getByLabel('Search').press('Enter');
    await expect.poll(() => shownTitles(a.page)).toEqual(['Buy oat milk']);
    await a.page.getByLabel('Search').fill('');
    await a.page.getByLabel('Sort by').selectOption({ label: 'title' });
    await a.page.getByLabel('Order').selectOption({ label: 'oldest / A first' });
    await expect.poll(() => shownTitles(a.page)).toEqual(['Buy oat milk', 'Write report']);

    // "Load more" follows the Link header, which the worker exposes to this origin.
    await a.page.getByLabel('Per page').fill('1');
    await a.page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => shownTitles(a.page)).toEqual(['Buy oat milk']);
    await a.page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => shownTitles(a.page)).toEqual(['Buy oat milk', 'Write report']);
    expect(await a.page.getByRole('button', { name: 'Load more' }).isHidden()).toBe(true);
    expect(a.watch.workerReplies.some((r) => r.path.includes('cursor='))).toBe(true);

    await a.page.getByLabel('Per page').fill('20');
    await a.page.getByLabel('Sort by').selectOption({ label: 'created' });
    await a.page.getByLabel('Order').selectOption({ label: 'newest / Z first' });
    await expect.poll(() => shownTitles(a.page)).toEqual(['Write report', 'Buy oat milk']);
    // The token is kept in memory only.
    const stored = await a.page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
    expect(stored).not.toMatch(/eyJ/);
    expect(await a.page.evaluate(() => document.cookie)).not.toMatch(/eyJ/);

    await a.page.evaluate(() => document.activeElement?.blur());
    await a.page.screenshot({ path: join(ARTIFACTS, 'signed-in.png') });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      copyFileSync(join(ARTIFACTS, 'signed-in.png'), join(ROOT_DIR, 'docs', 'demo.png'));
    }

    const b = await openPage();
    await signUp(b.page, 'Bob');
    await expect.poll(() => b.page.locator('#list-status').textContent()).toBe('No tasks match.');
    await b.page.getByLabel('Search').fill('milk');
    await b.page.getByLabel('Search').press('Enter');
    // "No tasks match." is already shown before the search answers: wait for the answer.
    await expect.poll(() => b.watch.workerReplies.some((r) => r.path.includes('q=milk') && r.status === 200)).toBe(true);
    await expect.poll(() => b.page.locator('#list-status').textContent()).toBe('No tasks match.');
    expect(await shownTitles(b.page)).toEqual([]);

    for (const { page, watch } of [a, b]) {
      expect(await errorText(page)).toBe('');
      expect(watch.errors).toEqual([]);
      expect(watch.workerReplies.length).toBeGreaterThan(0);
      // Every answer was read cross-origin, allowed for the page's own origin.
      expect(watch.workerReplies.filter((r) => r.allowOrigin !== stack.url)).toEqual([]);
      expect(watch.workerReplies.filter((r) => r.status >= 400)).toEqual([]);
    }
  });

  it('keeps working across several token lifetimes, renewing ahead of expiry and once after a 401', async () => {
    const c = await openPage();
    await signUp(c.page, 'Cy');
    const tokensAtStart = c.watch.tokenFetches;

    // Work steadily for three lifetimes.
    const started = Date.now();
    let added = 0;
    while (Date.now() - started < TOKEN_SECONDS * 3000 + 500) {
      added += 1;
      await addTask(c.page, `Chore ${added}`);
      await sleep(400);
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    const renewals = c.watch.tokenFetches - tokensAtStart;
    expect(await errorText(c.page)).toBe('');
    expect(c.watch.workerReplies.filter((r) => r.status >= 400)).toEqual([]);
    // Renewed at least once per lifetime, never per request: a token is kept for
    // between (lifetime − 1 s of iat rounding) × 2/3 and the whole lifetime.
    expect(renewals).toBeGreaterThanOrEqual(Math.floor(elapsedSeconds / TOKEN_SECONDS));
    expect(renewals).toBeLessThanOrEqual(Math.ceil(elapsedSeconds / (((TOKEN_SECONDS - 1) * 2) / 3)) + 1);
    expect(c.watch.workerReplies.length).toBeGreaterThan(2 * renewals);
    expect(await c.page.evaluate(() => window.demoStats.tokensFetched)).toBe(c.watch.tokenFetches);

    // Freeze the page's clock: it now believes its token is fresh long after the
    // worker stops accepting it, gets a 401, fetches one new token and repeats.
    await freezeAfterRenewal(c.page, c.watch);
    const before = { tokens: c.watch.tokenFetches, replies: c.watch.workerReplies.length };
    await sleep(TOKEN_SECONDS * 1000 + 500);
    await addTask(c.page, 'After the freeze');
    const replies = c.watch.workerReplies.slice(before.replies).map((r) => `${r.method} ${r.status}`);
    expect(replies.slice(0, 2)).toEqual(['POST 401', 'POST 201']);
    expect(c.watch.tokenFetches - before.tokens).toBe(1);
    expect(await errorText(c.page)).toBe('');
    expect(c.watch.unexpectedErrors([401])).toEqual([]);
    expect(await taskDb(stack).query("SELECT count(*)::int AS n FROM tasks WHERE title = 'After the freeze'")).toEqual([{ n: 1 }]);
  });

  it('422: an empty title is explained next to the field and in the message', async () => {
    const d = await openPage();
    await signUp(d.page, 'Dee');
    await newTitle(d.page).fill('   ');
    await d.page.getByRole('button', { name: 'Add task' }).click();
    await alertSays(d.page, /^Please correct: Title must not be empty\.$/);
    expect(await d.page.locator('#new-title-error').textContent()).toBe('Title must not be empty.');
    expect(await newTitle(d.page).getAttribute('aria-invalid')).toBe('true');
    // The error was followed by a fresh read of the list.
    await expect
      .poll(() => {
        const seen = d.watch.workerReplies.map((r) => `${r.method} ${r.status}`);
        return seen.slice(seen.indexOf('POST 422'));
      })
      .toEqual(['POST 422', 'GET 200']);
    expect(d.watch.unexpectedErrors([422])).toEqual([]);

    // Fixed, it goes through and the marks are gone.
    await addTask(d.page, 'A real title');
    expect(await newTitle(d.page).getAttribute('aria-invalid')).toBeNull();
    expect(await errorText(d.page)).toBe('');
  });

  it('503: with the SQL endpoint unreachable the page says when to try again', async () => {
    const e = await openPage();
    await signUp(e.page, 'Eve');
    await addTask(e.page, 'Kept safe');
    sqlDouble.respond = () => 'reset';
    try {
      await newTitle(e.page).fill('Lost in transit');
      await e.page.getByRole('button', { name: 'Add task' }).click();
      await alertSays(e.page, /^The task service is temporarily unavailable\. Please try again in 2 seconds\.$/);
      await expect.poll(() => e.page.locator('#list-status').textContent()).toBe('The list could not be loaded.');
    } finally {
      sqlDouble.respond = () => 'forward';
    }
    await e.page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => shownTitles(e.page)).toEqual(['Kept safe']);
    expect(await errorText(e.page)).toBe('');
    expect(e.watch.workerReplies.filter((r) => r.status >= 400).map((r) => r.status)).toEqual([503, 503]);
    expect(e.watch.unexpectedErrors([503])).toEqual([]);
  });

  it('401: a session signed out in another tab ends this one at its next request', async () => {
    const first = await openPage();
    await signUp(first.page, 'Fay');
    await addTask(first.page, 'Before sign-out');
    await freezeAfterRenewal(first.page, first.watch);

    const second = await openPage(first.context);
    await second.page.getByRole('button', { name: 'Sign out' }).click();
    await second.page.getByRole('heading', { name: 'Sign in' }).waitFor();

    // The first tab still holds a token; once it has expired (its frozen clock does
    // not know), the worker refuses it, and Better Auth has no session to renew it.
    await sleep(TOKEN_SECONDS * 1000 + 500);
    await newTitle(first.page).fill('After sign-out');
    await first.page.getByRole('button', { name: 'Add task' }).click();
    await alertSays(first.page, /^You have been signed out \(perhaps in another tab, or your session ended\)\. Please sign in again\.$/);
    await first.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(first.watch.workerReplies.map((r) => r.status).slice(-1)).toEqual([401]);
    expect(first.watch.unexpectedErrors([401])).toEqual([]);
    expect(await taskDb(stack).query("SELECT count(*)::int AS n FROM tasks WHERE title = 'After sign-out'")).toEqual([{ n: 0 }]);
  });

  it('412: an edit of a task changed in another tab is refused, explained, and the current version shown', async () => {
    const first = await openPage();
    await signUp(first.page, 'Gus');
    await addTask(first.page, 'Shared draft');
    const second = await openPage(first.context);
    await expect.poll(() => shownTitles(second.page)).toEqual(['Shared draft']);

    await first.page.getByRole('button', { name: 'Edit: Shared draft' }).click();
    const edit = first.page.getByRole('form', { name: 'Edit task: Shared draft' });
    await edit.getByLabel('Title').fill('Edited in tab one');
    await edit.getByLabel('Title').press('Enter');
    await first.page.getByRole('status').filter({ hasText: 'Saved “Edited in tab one”' }).waitFor();

    // The second tab still shows version 1 and sends If-Match: "1".
    await second.page.getByRole('button', { name: 'Edit: Shared draft' }).click();
    const stale = second.page.getByRole('form', { name: 'Edit task: Shared draft' });
    await stale.getByLabel('Title').fill('Edited in tab two');
    await stale.getByLabel('Title').press('Enter');
    await alertSays(second.page, /changed somewhere else after you loaded it/);
    await expect.poll(() => shownTitles(second.page)).toEqual(['Edited in tab one']);
    expect(second.watch.unexpectedErrors([412])).toEqual([]);
    expect(await taskDb(stack).query("SELECT count(*)::int AS n FROM tasks WHERE title = 'Edited in tab two'")).toEqual([{ n: 0 }]);
  });

  /** Points newly opened pages at a worker started with `extra` bindings and options. */
  async function withWorker(extra, options, body) {
    const other = await startWorker(
      stackBindings(stack, {
        NEON_SQL_ENDPOINT: sqlDouble.url,
        AUTH_CLOCK_SKEW_SECONDS: '0',
        CORS_ALLOWED_ORIGINS: [stack.url, stack.url.replace('127.0.0.1', 'localhost')].join(','),
        ...extra,
      }),
      options,
    );
    const previous = workerOrigin;
    workerOrigin = (await other.mf.ready).origin;
    try {
      await body();
    } finally {
      workerOrigin = previous;
      await other.close();
    }
  }

  it('409: a create beyond the task quota is explained', async () => {
    await withWorker({ TASKS_PER_USER_MAX: '1' }, {}, async () => {
      const h = await openPage();
      await signUp(h.page, 'Hal');
      await addTask(h.page, 'The only one');
      await newTitle(h.page).fill('One too many');
      await h.page.getByRole('button', { name: 'Add task' }).click();
      await alertSays(h.page, /^You already have 1 tasks, the most one user may hold; delete some first\.$/);
      expect(await shownTitles(h.page)).toEqual(['The only one']);
      expect(h.watch.unexpectedErrors([409])).toEqual([]);
    });
  });

  it('429: too many writes are explained with the wait from Retry-After', async () => {
    await withWorker({ WRITE_LIMIT_PERIOD_SECONDS: '60' }, { ratelimits: { WRITE_LIMITER: { simple: { limit: 2, period: 60 } } } }, async () => {
      const i = await openPage();
      await signUp(i.page, 'Ivy');
      await addTask(i.page, 'First');
      await addTask(i.page, 'Second');
      await newTitle(i.page).fill('Third');
      await i.page.getByRole('button', { name: 'Add task' }).click();
      await alertSays(i.page, /^You are making changes too quickly\. Please wait 60 seconds and try again\.$/);
      expect(await shownTitles(i.page)).toEqual(['Second', 'First']);
      expect(i.watch.unexpectedErrors([429])).toEqual([]);
    });
  });
});
