// The scaling model (scripts/simulate/, docs/scaling.md): its formulas on cases whose
// answer is known by hand, and the labelling rules of its inputs. Pure functions over
// the committed measurement files; no worker, no database, no plot.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultParams, USER_COUNTS } from '../scripts/simulate/params.mjs';
import * as M from '../scripts/simulate/model.mjs';
import { fillDoc, report } from '../scripts/simulate/run.mjs';

const p = defaultParams();
const set = (q, key, value) => ({ ...q, [key]: { ...q[key], value } });

describe('scaling model: inputs', () => {
  it('labels every input measured, documented or assumed, and gives each assumed number a sensitivity range', () => {
    for (const [key, param] of Object.entries(p)) {
      expect(['measured', 'documented', 'assumed'], key).toContain(param.source);
      expect(param.basis, key).toBeTruthy();
      if (param.source === 'assumed' && key !== 'neonRegion') expect(param.range, key).toHaveLength(2);
    }
    expect(USER_COUNTS[0]).toBe(1e4);
    expect(USER_COUNTS.at(-1)).toBe(1e7);
  });

  it('uses the product’s JWKS fresh period and the measured figures', () => {
    expect(p.jwksFreshSeconds.value).toBe(600);
    expect(p.cpuMsPerRoute.source).toBe('measured');
    expect(p.cpuMsPerRoute.value.list).toBeGreaterThan(p.cpuMsPerRoute.value.me);
    expect(p.postgres.value.levels.length).toBeGreaterThanOrEqual(2);
  });
});

describe('scaling model: JWKS fetches reaching the issuer', () => {
  // One machine per location, isolates that live a day, steady traffic: each isolate
  // fetches at its start and refetches every 600 s, so 6 per hour per location.
  const one = [['machinesPerLocation', 1], ['isolateLifetimeSeconds', 86400], ['isolateIdleSeconds', 1800]].reduce((q, [k, v]) => set(q, k, v), p);

  it('per-isolate caching costs one fetch per fresh period per busy isolate', () => {
    const at = M.jwksAtLocation(one, 50);
    expect(at.isolateOnlyPerS * 3600).toBeCloseTo(6, 1);
  });

  it('the Cache API tier never costs more, and costs far less with many isolates per location', () => {
    for (const users of USER_COUNTS) {
      const j = M.jwks(p, users);
      expect(j.cacheApiTierPerHour).toBeLessThanOrEqual(j.perIsolateCachePerHour);
    }
    const busy = M.jwksAtLocation(set(p, 'machinesPerLocation', 40), 20);
    // ≈ 6 refresh cycles per hour for the location, plus the herd and evicted reads.
    expect(busy.cacheTierPerS * 3600).toBeLessThan(busy.isolateOnlyPerS * 3600 / 5);
    // At expiry every copy expires at once: the busier each isolate, the more of them
    // miss the shared entry while the first fetch is in flight.
    const herd = M.jwksAtLocation(set(p, 'machinesPerLocation', 40), 400);
    expect(herd.cacheTierPerS / herd.isolateOnlyPerS).toBeGreaterThan(busy.cacheTierPerS / busy.isolateOnlyPerS);
  });

  it('on *.workers.dev the tier does nothing', () => {
    const j = M.jwks(p, 1e6);
    expect(j.workersDevPerHour).toBe(j.perIsolateCachePerHour);
    expect(j.workersDevPerHour).toBeGreaterThan(j.cacheApiTierPerHour);
  });

  it('an isolate under steady load fetches once per fresh period (the bench’s figure)', () => {
    expect(M.jwksFetchesPerIsolate(p, 170)).toBe(1);
    expect(M.jwksFetchesPerIsolate(p, 600)).toBe(1);
    expect(M.jwksFetchesPerIsolate(p, 601)).toBe(2);
  });
});

describe('scaling model: latency and placement', () => {
  // Connections that never go idle: every Neon call reuses one, at the edge and placed.
  const warm = set(p, 'connectionIdleSeconds', 1e9);

  it('placing the worker near the database saves nothing on a one-round-trip route over warm connections', () => {
    for (const region of ['Europe', 'Asia', 'Oceania']) {
      const edge = M.latency(warm, region, 'list', 'edge', { users: 1e4 });
      const placed = M.latency(warm, region, 'list', 'placed', { users: 1e4 });
      expect(placed - edge).toBeCloseTo(p.placedToNeonRttMs.value, 6);
    }
    expect(M.placementCrossover(warm)).toBe(1000);
  });

  it('and adds the full round trip to the database region to /api/me', () => {
    const rtt = p.rttToRegionMs.value[p.neonRegion.value].Asia;
    expect(M.latency(p, 'Asia', 'me', 'placed') - M.latency(p, 'Asia', 'me', 'edge')).toBeCloseTo(rtt, 6);
    expect(M.latency(p, 'Asia', 'me', 'edge')).toBeLessThan(p.userToEdgeRttMs.value + 1);
  });

  it('a quiet edge location opens a new connection per call: TCP + TLS cost two extra round trips', () => {
    const rtt = p.rttToRegionMs.value[p.neonRegion.value].Europe;
    const cold = set(p, 'connectionIdleSeconds', 1e-9);
    expect(M.latency(cold, 'Europe', 'list', 'edge') - M.latency(warm, 'Europe', 'list', 'edge')).toBeCloseTo(2 * rtt, 3);
    expect(M.newConnectionShare(p, 0)).toBe(1);
    // More traffic per location keeps connections warm: the edge catches up with placement.
    const small = M.mixLatency(p, 'edge', { users: 1e4 }) - M.mixLatency(p, 'placed', { users: 1e4 });
    const large = M.mixLatency(p, 'edge', { users: 1e7 }) - M.mixLatency(p, 'placed', { users: 1e7 });
    expect(large).toBeLessThan(small);
  });
});

describe('scaling model: database and cost', () => {
  it('counts one transaction of two statements per task request, plus the purge on creates', () => {
    const t = M.traffic(p, 1e6);
    const d = M.database(p, 1e6);
    expect(d.rows).toBe(1e8);
    expect(d.transactionsPerS).toBeCloseTo(t.taskPeakRps, 9);
    expect(d.statementsPerS).toBeCloseTo(2 * t.taskPeakRps + t.peakPerRoute.create, 9);
  });

  it('keeps the list query independent of table size (measured: index scan, flat time)', () => {
    const { ms, slopePerDecade } = M.listExecMs(p, 1e9);
    expect(ms).toBeLessThan(1);
    expect(Math.abs(slopePerDecade)).toBeLessThan(0.2);
    for (const level of p.postgres.value.levels) {
      expect(level.list['default (created_at desc, limit 50)'].nodes.join(' ')).toMatch(/Index Scan using tasks_user_created_idx/);
    }
  });

  it('a per-user purge leaves inactive users’ keys behind; a global purge bounds the table', () => {
    const d = M.database(p, 1e7).idempotency;
    expect(d.rowsOwnerPurge).toBeGreaterThan(d.rowsGlobalPurge);
  });

  it('prices Workers by the published rates', () => {
    const tiny = M.workersCost(set(p, 'requestsPerUserPerDay', 1), 100);
    expect(tiny.usdPerMonth).toBe(5);
    const c = M.workersCost(p, 1e7);
    const req = 1e7 * p.requestsPerUserPerDay.value * 30;
    const cpuMs = req * c.cpuMsPerRequest;
    expect(c.usdPerMonth).toBeCloseTo(5 + ((req - 10e6) / 1e6) * 0.3 + ((cpuMs - 30e6) / 1e6) * 0.02, 6);
  });
});

describe('scaling model: the report', () => {
  it('has one sensitivity row per assumed parameter with a range', () => {
    const rows = M.sensitivity(p, 1e6);
    const assumed = Object.entries(p).filter(([, x]) => x.source === 'assumed' && x.range).map(([k]) => k);
    expect(rows.map((r) => r.key)).toEqual(assumed);
    const machines = rows.find((r) => r.key === 'machinesPerLocation');
    expect(machines.high.jwksIsolatePerHour).toBeGreaterThan(machines.low.jwksIsolatePerHour);
  });

  it('fills every generated block of docs/scaling.md', () => {
    const doc = readFileSync(new URL('../docs/scaling.md', import.meta.url), 'utf8');
    const sections = report(p, null);
    const filled = fillDoc(doc, sections);
    for (const body of Object.values(sections)) expect(filled).toContain(body);
    expect(() => fillDoc('no blocks here', sections)).toThrow(/sim:inputs/);
  });
});
