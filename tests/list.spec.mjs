// GET /api/tasks (and /api/{user_id}/tasks): status filter, the three sorts in both
// orders, case-insensitive search that takes % and _ literally, limits, and keyset
// pagination through `Link: <…>; rel="next"` that stays stable under inserts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  backendName,
  expectFields,
  signUpAndGetToken,
  sleep,
  stackBindings,
  startLocalStack,
  startWorker,
  taskDb,
} from './harness.mjs';

let stack;
let worker;
let db;

beforeAll(async () => {
  stack = await startLocalStack();
  worker = await startWorker(stackBindings(stack));
  db = taskDb(stack);
});

afterAll(async () => {
  await worker?.close();
  await stack?.close();
});

/** A new user and a client for them. */
async function newUser() {
  const user = await signUpAndGetToken(stack);
  return { ...user, call: api(worker, user.token) };
}

async function createAll(user, bodies) {
  const created = [];
  for (const body of bodies) {
    const res = await user.call('POST', '/api/tasks', body);
    expect(res.status).toBe(201);
    created.push(res.body);
  }
  return created;
}

/** The `rel="next"` target of a Link header, or null. */
function nextLink(res) {
  const link = res.headers.get('link');
  if (link === null) return null;
  const match = link.match(/^<([^>]+)>;\s*rel="next"$/);
  expect(match, `Link header ${link}`).not.toBeNull();
  return match[1];
}

/** Follows Link headers from `first`; returns every page's tasks. */
async function walk(user, first, { between } = {}) {
  const pages = [];
  let next = first;
  while (next) {
    const res = await user.call('GET', next);
    expect(res.status, next).toBe(200);
    pages.push(res.body);
    next = nextLink(res);
    if (pages.length > 200) throw new Error('pagination does not end');
    if (next && between) await between(pages.length);
  }
  return pages;
}

const byKey = (key, order) => (a, b) => {
  const cmp = a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : a.id - b.id;
  return order === 'asc' ? cmp : -cmp;
};
const ids = (tasks) => tasks.map((t) => t.id);

const SORTS = ['created_at', 'updated_at', 'title'];
const ORDERS = ['asc', 'desc'];

describe(`filters and sorting (${backendName()})`, () => {
  let L;
  let tasks; // as they are after the updates below

  beforeAll(async () => {
    L = await newUser();
    // Lower-case ASCII titles only, so every collation orders them the same way.
    const created = await createAll(L, [
      { title: 'kiwi', description: 'green fruit' },
      { title: 'apple', completed: true },
      { title: 'mango', description: 'Buy MILK too' },
      { title: 'dup' },
      { title: 'banana', description: 'yellow', completed: true },
      { title: 'dup', completed: true },
      { title: 'milk run' },
      { title: 'cherry' },
      { title: 'dup' },
      { title: 'zucchini', description: 'oat milk', completed: true },
      { title: 'fig' },
    ]);
    // Touch some tasks without a description, in an order unlike their creation, so
    // updated_at differs from created_at.
    for (const index of [7, 3, 10, 6]) {
      await sleep(3);
      const res = await L.call('PATCH', `/api/tasks/${created[index].id}`, { description: `touched ${index}` });
      expect(res.status).toBe(200);
    }
    tasks = [];
    for (const task of created) tasks.push((await L.call('GET', `/api/tasks/${task.id}`)).body);
  });

  it('defaults: all tasks, newest first (created_at desc)', async () => {
    const res = await L.call('GET', '/api/tasks');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(ids(res.body)).toEqual(ids([...tasks].sort(byKey('created_at', 'desc'))));
    expect(res.body).toEqual([...tasks].sort(byKey('created_at', 'desc')));
    expect(res.headers.get('link')).toBeNull();
  });

  for (const sort of SORTS) {
    for (const order of ORDERS) {
      it(`sort=${sort}&order=${order}`, async () => {
        const res = await L.call('GET', `/api/tasks?sort=${sort}&order=${order}`);
        expect(res.status).toBe(200);
        expect(ids(res.body)).toEqual(ids([...tasks].sort(byKey(sort, order))));
      });
    }
  }

  it('sort=updated_at really follows updates, not creation', async () => {
    const res = await L.call('GET', '/api/tasks?sort=updated_at&order=desc&limit=4');
    expect(res.body.map((t) => t.description)).toEqual(['touched 6', 'touched 10', 'touched 3', 'touched 7']);
  });

  it('title ties are broken by id, in the direction of the order', async () => {
    const dups = tasks.filter((t) => t.title === 'dup').map((t) => t.id);
    const asc = await L.call('GET', '/api/tasks?sort=title&order=asc&q=dup');
    expect(ids(asc.body)).toEqual([...dups].sort((a, b) => a - b));
    const desc = await L.call('GET', '/api/tasks?sort=title&order=desc&q=dup');
    expect(ids(desc.body)).toEqual([...dups].sort((a, b) => b - a));
  });

  it('status=all|pending|completed', async () => {
    const all = await L.call('GET', '/api/tasks?status=all');
    expect(ids(all.body)).toEqual(ids([...tasks].sort(byKey('created_at', 'desc'))));
    const pending = await L.call('GET', '/api/tasks?status=pending');
    expect(ids(pending.body)).toEqual(ids(tasks.filter((t) => !t.completed).sort(byKey('created_at', 'desc'))));
    const completed = await L.call('GET', '/api/tasks?status=completed&sort=title&order=asc');
    expect(ids(completed.body)).toEqual(ids(tasks.filter((t) => t.completed).sort(byKey('title', 'asc'))));
    expect(pending.body.length + completed.body.length).toBe(tasks.length);
    expect(completed.body.length).toBe(4);
  });

  it('q is a case-insensitive substring of the title or the description', async () => {
    const find = async (q, extra = '') =>
      (await L.call('GET', `/api/tasks?q=${encodeURIComponent(q)}&sort=title&order=asc${extra}`)).body.map((t) => t.title);
    expect(await find('milk')).toEqual(['mango', 'milk run', 'zucchini']);
    expect(await find('MiLK')).toEqual(['mango', 'milk run', 'zucchini']);
    expect(await find('ILK RU')).toEqual(['milk run']);
    expect(await find('an')).toEqual(['banana', 'mango']);
    expect(await find('FRUIT')).toEqual(['kiwi']);
    expect(await find('touched')).toEqual(['cherry', 'dup', 'fig', 'milk run']);
    expect(await find('milk', '&status=completed')).toEqual(['zucchini']);
    expect(await find('milk', '&status=pending')).toEqual(['mango', 'milk run']);
    expect(await find('no such thing')).toEqual([]);
    expect(await find('')).toHaveLength(tasks.length);
  });

  it('both path forms list the same, and unknown parameters are ignored', async () => {
    const short = await L.call('GET', '/api/tasks?sort=title&order=asc');
    const long = await L.call('GET', `/api/${encodeURIComponent(L.userId)}/tasks?sort=title&order=asc&_=12345&utm_source=x`);
    expect(long.status).toBe(200);
    expect(long.body).toEqual(short.body);
  });
});

describe('search takes wildcards and quotes literally', () => {
  let Q;
  beforeAll(async () => {
    Q = await newUser();
    await createAll(Q, [
      { title: '100% done' },
      { title: '100 percent' },
      { title: 'snake_case' },
      { title: 'snakeXcase' },
      { title: 'back\\slash' },
      { title: 'backslash' },
      { title: "it's quoted" },
      { title: 'plain', description: 'costs 5% more' },
      { title: 'שלום עולם' },
      { title: 'emoji 🌍 inside' },
      { title: "'; DROP TABLE tasks; --" },
    ]);
  });

  const cases = [
    ['%', ['100% done', 'plain']],
    ['100%', ['100% done']],
    ['_', ['snake_case']],
    ['e_c', ['snake_case']],
    ['\\', ['back\\slash']],
    ['k\\s', ['back\\slash']],
    ["'", ["'; DROP TABLE tasks; --", "it's quoted"]],
    ['%_%', []],
    ['שלום', ['שלום עולם']],
    ['🌍', ['emoji 🌍 inside']],
    ['; drop table', ["'; DROP TABLE tasks; --"]],
    ['slash', ['back\\slash', 'backslash']],
  ];
  it.each(cases)('q=%s', async (q, expected) => {
    const res = await Q.call('GET', `/api/tasks?q=${encodeURIComponent(q)}&limit=100`);
    expect(res.status).toBe(200);
    expect(res.body.map((t) => t.title).sort()).toEqual([...expected].sort());
  });
});

describe('limits and invalid parameters', () => {
  let P;
  let all; // P's 60 tasks, newest first
  beforeAll(async () => {
    P = await newUser();
    // Created ten at a time: equal timestamps are likely, and the id must break ties.
    for (let batch = 0; batch < 6; batch += 1) {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => P.call('POST', '/api/tasks', { title: `t${(batch * 10 + i) % 13}`, completed: i % 3 === 0 })),
      );
      for (const res of results) expect(res.status).toBe(201);
    }
    all = (await P.call('GET', '/api/tasks?limit=100')).body;
    expect(all).toHaveLength(60);
  });

  it('limit defaults to 50 and goes from 1 to 100; a full last page has no Link', async () => {
    const first = await P.call('GET', '/api/tasks');
    expect(first.body).toHaveLength(50);
    expect(first.body).toEqual(all.slice(0, 50));
    expect(nextLink(first)).not.toBeNull();
    for (const [limit, length, more] of [
      [1, 1, true],
      [59, 59, true],
      [60, 60, false],
      [61, 60, false],
      [100, 60, false],
    ]) {
      const res = await P.call('GET', `/api/tasks?limit=${limit}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(all.slice(0, length));
      expect(nextLink(res) !== null, `limit=${limit}`).toBe(more);
    }
  });

  it.each([
    ['limit=0', ['limit']],
    ['limit=101', ['limit']],
    ['limit=-1', ['limit']],
    ['limit=abc', ['limit']],
    ['limit=1.5', ['limit']],
    ['limit=', ['limit']],
    ['limit=%2B5', ['limit']],
    ['limit=1e1', ['limit']],
    ['limit=99999999999999999999', ['limit']],
    ['status=done', ['status']],
    ['status=', ['status']],
    ['sort=id', ['sort']],
    ['sort=title%3B%20DROP%20TABLE%20tasks', ['sort']],
    ['sort=created_at%20desc', ['sort']],
    ['order=up', ['order']],
    ['order=asc%2Cid', ['order']],
    ['cursor=abc', ['cursor']],
    ['cursor=%25%25%25', ['cursor']],
    [`cursor=${Buffer.from('{}').toString('base64url')}`, ['cursor']],
    [`cursor=${Buffer.from('{"s":"created_at","o":"desc","v":"not a time","i":1}').toString('base64url')}`, ['cursor']],
    [`cursor=${Buffer.from('{"s":"created_at","o":"desc","v":"2026-01-01T00:00:00.000000Z","i":0}').toString('base64url')}`, ['cursor']],
    [`q=${'x'.repeat(201)}`, ['q']],
    ['status=all&status=pending', ['status']],
    ['limit=5&limit=5', ['limit']],
    ['sort=title&sort=title', ['sort']],
    ['order=asc&order=desc', ['order']],
    ['q=a&q=b', ['q']],
    ['status=x&sort=y&order=z&limit=0', ['status', 'sort', 'order', 'limit']],
  ])('%s → 422 naming %j', async (query, fields) => {
    const { calls } = await (async () => {
      const before = stack.stats.sql;
      const res = await P.call('GET', `/api/tasks?${query}`);
      expectFields(res, fields);
      return { calls: stack.stats.sql - before };
    })();
    expect(calls).toBe(0);
  });

  it('a cursor only works with the sort and order it was made for', async () => {
    const page = await P.call('GET', '/api/tasks?sort=title&order=asc&limit=5');
    const link = nextLink(page);
    const cursor = new URL(link, 'http://x').searchParams.get('cursor');
    expect(cursor).toBeTruthy();
    const ok = await P.call('GET', `/api/tasks?sort=title&order=asc&limit=5&cursor=${encodeURIComponent(cursor)}`);
    expect(ok.status).toBe(200);
    for (const query of ['sort=created_at&order=asc', 'sort=updated_at&order=asc', 'sort=title&order=desc', 'order=asc', '']) {
      const res = await P.call('GET', `/api/tasks?${query}&cursor=${encodeURIComponent(cursor)}`);
      expectFields(res, ['cursor']);
    }
  });
});

describe('pagination through Link', () => {
  let P;
  beforeAll(async () => {
    P = await newUser();
    for (let batch = 0; batch < 4; batch += 1) {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => P.call('POST', '/api/tasks', { title: `p${(batch * 8 + i) % 5}`, completed: i % 2 === 0 })),
      );
      for (const res of results) expect(res.status).toBe(201);
    }
    // Touch a few so updated_at has its own order.
    const listed = (await P.call('GET', '/api/tasks?limit=100')).body;
    for (const task of listed.filter((_, i) => i % 4 === 1)) {
      await sleep(2);
      await P.call('PATCH', `/api/tasks/${task.id}/complete`);
    }
  });

  for (const sort of SORTS) {
    for (const order of ORDERS) {
      it(`visits every task exactly once: sort=${sort}&order=${order}, both path forms`, async () => {
        const full = (await P.call('GET', `/api/tasks?sort=${sort}&order=${order}&limit=100`)).body;
        expect(full).toHaveLength(32);
        for (const base of ['/api/tasks', `/api/${encodeURIComponent(P.userId)}/tasks`]) {
          const pages = await walk(P, `${base}?sort=${sort}&order=${order}&limit=7`);
          expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 7, 4]);
          const seen = pages.flat();
          expect(new Set(ids(seen)).size).toBe(32);
          expect(seen).toEqual(full);
        }
      });
    }
  }

  it('keeps the filters, search and path form in the Link', async () => {
    const base = `/api/${encodeURIComponent(P.userId)}/tasks`;
    const first = await P.call('GET', `${base}?status=completed&q=P&sort=title&order=asc&limit=2`);
    const link = nextLink(first);
    expect(link.startsWith(`${base}?`)).toBe(true);
    const params = new URL(link, 'http://x').searchParams;
    expect(params.get('status')).toBe('completed');
    expect(params.get('q')).toBe('P');
    expect(params.get('sort')).toBe('title');
    expect(params.get('order')).toBe('asc');
    expect(params.get('limit')).toBe('2');
    const pages = await walk(P, `${base}?status=completed&q=P&sort=title&order=asc&limit=2`);
    const seen = pages.flat();
    const expected = (await P.call('GET', '/api/tasks?status=completed&q=p&sort=title&order=asc&limit=100')).body;
    expect(seen).toEqual(expected);
    expect(seen.length).toBeGreaterThan(2);
    for (const task of seen) expect(task.completed).toBe(true);
  });

  it('the last page carries no Link', async () => {
    const res = await P.call('GET', '/api/tasks?limit=32');
    expect(res.body).toHaveLength(32);
    expect(res.headers.get('link')).toBeNull();
    const pages = await walk(P, '/api/tasks?limit=16');
    expect(pages).toHaveLength(2);
  });
});

describe('pagination is stable under concurrent writes', () => {
  it('inserts between pages cause no duplicates or skips (newest first)', async () => {
    const S = await newUser();
    const originals = await createAll(S, Array.from({ length: 25 }, (_, i) => ({ title: `s${i}` })));
    const inserted = [];
    const pages = await walk(S, '/api/tasks?limit=6', {
      between: async () => {
        for (let i = 0; i < 3; i += 1) {
          const res = await S.call('POST', '/api/tasks', { title: `new ${inserted.length}` });
          inserted.push(res.body);
        }
      },
    });
    const seen = ids(pages.flat());
    expect(new Set(seen).size).toBe(seen.length);
    // Newer tasks sort before the cursor: the walk shows each original once, in order.
    expect(seen).toEqual(ids([...originals].reverse()));
    expect(inserted.length).toBeGreaterThan(0);
  });

  it('inserts between pages cause no duplicates or skips (oldest first, new ones at the end)', async () => {
    const S = await newUser();
    const originals = await createAll(S, Array.from({ length: 25 }, (_, i) => ({ title: `s${i}` })));
    const inserted = [];
    const pages = await walk(S, '/api/tasks?order=asc&limit=6', {
      between: async (n) => {
        if (n > 3) return;
        const res = await S.call('POST', '/api/tasks', { title: `new ${n}` });
        inserted.push(res.body);
      },
    });
    const seen = ids(pages.flat());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...ids(originals), ...ids(inserted)]);
  });

  it('sorted by title, inserts before and after the cursor neither repeat nor hide originals', async () => {
    const S = await newUser();
    const originals = await createAll(S, Array.from({ length: 20 }, (_, i) => ({ title: `m${String(i).padStart(2, '0')}` })));
    const pages = await walk(S, '/api/tasks?sort=title&order=asc&limit=5', {
      between: async (n) => {
        // One title before everything seen so far, one after everything.
        await S.call('POST', '/api/tasks', { title: `a${n}` });
        await S.call('POST', '/api/tasks', { title: `z${n}` });
      },
    });
    const seen = pages.flat();
    expect(new Set(ids(seen)).size).toBe(seen.length);
    const originalSeen = seen.filter((t) => t.title.startsWith('m'));
    expect(ids(originalSeen)).toEqual(ids(originals));
    expect(seen.filter((t) => t.title.startsWith('a'))).toEqual([]);
    expect(seen.filter((t) => t.title.startsWith('z')).length).toBeGreaterThan(0);
  });

  it('a deletion between pages skips only the deleted task', async () => {
    const S = await newUser();
    const originals = await createAll(S, Array.from({ length: 12 }, (_, i) => ({ title: `d${i}` })));
    const doomed = originals[2]; // newest first: on a page not yet fetched
    const pages = await walk(S, '/api/tasks?limit=5', {
      between: async (n) => {
        if (n === 1) expect((await S.call('DELETE', `/api/tasks/${doomed.id}`)).status).toBe(204);
      },
    });
    const seen = ids(pages.flat());
    expect(seen).toEqual(ids([...originals].reverse()).filter((id) => id !== doomed.id));
    expect(await db.row(doomed.id)).toBeNull();
  });
});
