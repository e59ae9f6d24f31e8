// The scaling model: pure functions of the parameters (params.mjs) and a user count.
// Nothing here reads files or the clock, so tests/simulate.spec.mjs can check it and a
// what-if is one override away. docs/scaling.md explains every formula in words.
import { REGIONS } from './params.mjs';

const val = (p, key) => p[key].value;
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
export const TASK_ROUTES = ['list', 'get', 'create', 'update', 'delete'];
const SECONDS_PER_DAY = 86400;

/** Requests per second, mean and peak, in total and per route. */
export function traffic(p, users) {
  const mix = val(p, 'routeMix');
  const perDay = users * val(p, 'requestsPerUserPerDay');
  const meanRps = perDay / SECONDS_PER_DAY;
  const peakRps = meanRps * val(p, 'peakToMean');
  const taskShare = sum(TASK_ROUTES.map((r) => mix[r]));
  return {
    perDay,
    meanRps,
    peakRps,
    taskShare,
    taskMeanRps: meanRps * taskShare,
    taskPeakRps: peakRps * taskShare,
    peakPerRoute: Object.fromEntries(Object.entries(mix).map(([r, s]) => [r, s * peakRps])),
  };
}

/** Cloudflare locations with their share of the traffic (even within a region). */
export function locations(p) {
  const share = val(p, 'regionShare');
  const count = val(p, 'locationsPerRegion');
  return REGIONS.filter((r) => share[r] > 0).map((region) => ({
    region,
    count: Math.max(1, Math.round(count[region])),
    sharePerLocation: share[region] / Math.max(1, Math.round(count[region])),
  }));
}

/**
 * Isolates of one location and the JWKS fetches they send to the issuer, per second.
 *
 * Requests (Poisson, rate λ) spread over M machines, one isolate per machine that has
 * one. A request finds no isolate when its machine saw no request for the idle time T
 * (probability e^(−rT), r = λ/M): it starts one. A busy isolate is also recycled after
 * its lifetime L. Per-isolate cache: each start fetches, and a busy isolate refetches
 * every fresh period F while it lives. Cache API tier: the location's copy is fetched
 * once per F (+1/λ until the next request), plus the isolates that miss it during the
 * fetch window W (they all expire together, having copied the entry's lifetime), plus
 * starts that miss an evicted entry.
 */
export function jwksAtLocation(p, lambda) {
  const M = val(p, 'machinesPerLocation');
  const T = val(p, 'isolateIdleSeconds');
  const L = val(p, 'isolateLifetimeSeconds');
  const F = val(p, 'jwksFreshSeconds');
  const W = val(p, 'jwksFetchSeconds');
  const hit = val(p, 'cacheApiHitRatio');
  if (lambda <= 0) return { alive: 0, startsPerS: 0, isolateOnlyPerS: 0, cacheTierPerS: 0 };
  const r = lambda / M;
  const idleMiss = Math.exp(-r * T);
  const alive = M * (1 - idleMiss);
  const startsPerS = M * r * idleMiss + alive / L;
  const refreshesPerLife = Math.max(0, Math.ceil(L / F) - 1);
  const isolateOnlyPerS = startsPerS + (alive * refreshesPerLife) / L;
  const cyclesPerS = 1 / (F + 1 / lambda);
  const herd = Math.max(0, alive - 1) * (1 - Math.exp(-r * W));
  const cacheTierPerS = Math.min(isolateOnlyPerS, cyclesPerS * (1 + herd) + startsPerS * (1 - hit));
  return { alive, startsPerS, isolateOnlyPerS, cacheTierPerS };
}

/**
 * JWKS fetches per hour reaching the issuer, all locations together.
 * `workersDev`: the Cache API does nothing there, so the tier falls back to per-isolate.
 */
export function jwks(p, users) {
  const { meanRps } = traffic(p, users);
  let alive = 0, starts = 0, isolateOnly = 0, cacheTier = 0;
  for (const loc of locations(p)) {
    const at = jwksAtLocation(p, meanRps * loc.sharePerLocation);
    alive += at.alive * loc.count;
    starts += at.startsPerS * loc.count;
    isolateOnly += at.isolateOnlyPerS * loc.count;
    cacheTier += at.cacheTierPerS * loc.count;
  }
  return {
    isolatesAlive: alive,
    isolateStartsPerHour: starts * 3600,
    perIsolateCachePerHour: isolateOnly * 3600,
    cacheApiTierPerHour: cacheTier * 3600,
    workersDevPerHour: isolateOnly * 3600,
  };
}

/** JWKS fetches one isolate makes over a run of `seconds` of steady load (the bench case). */
export function jwksFetchesPerIsolate(p, seconds) {
  const F = val(p, 'jwksFreshSeconds');
  return 1 + Math.max(0, Math.ceil(seconds / F) - 1);
}

/** The measured level with the most rows (the model's database figures come from it). */
function largestLevel(p) {
  const levels = val(p, 'postgres').levels;
  return levels[levels.length - 1];
}

/** Server time of one task transaction (prefix + statement), from the measured list. */
export function sqlMs(p) {
  return largestLevel(p).transaction.with_rls_prefix_ms_p50;
}

/**
 * Share of Neon calls that must open a new TCP+TLS connection, when `rps` task requests
 * per second reach Neon from `machines` machines that each keep an idle connection for
 * K seconds: a call finds none if its machine made no call for K (Poisson, e^(−rK)).
 */
export function newConnectionShare(p, rps, machines = val(p, 'machinesPerLocation')) {
  if (rps <= 0) return 1;
  return Math.exp(-(rps / machines) * val(p, 'connectionIdleSeconds'));
}

/**
 * Latency of one request, frontend to response, in ms, at `users` users.
 * `placement`: 'edge' (the worker runs where the request arrives) or 'placed' (Smart
 * Placement ran it next to the database: every route pays the hop there and back,
 * task routes then reach Neon over a short link that the whole world's traffic keeps
 * warm). The edge location's link to Neon is warm only if its own traffic keeps it so.
 */
export function latency(p, region, route, placement, { users = 1e6, neonRegion = val(p, 'neonRegion') } = {}) {
  const rtt = val(p, 'rttToRegionMs')[neonRegion][region];
  const user = val(p, 'userToEdgeRttMs');
  const cpu = val(p, 'cpuMsPerRoute')[route];
  const roundTrips = route === 'me' ? 0 : 1;
  const setup = val(p, 'connectionSetupRtts');
  const inNeon = val(p, 'neonProxyMs') + sqlMs(p);
  const { taskMeanRps } = traffic(p, users);
  if (placement === 'edge') {
    const loc = locations(p).find((l) => l.region === region);
    const share = newConnectionShare(p, taskMeanRps * (loc ? loc.sharePerLocation : 0));
    return user + cpu + roundTrips * (rtt * (1 + setup * share) + inNeon);
  }
  const placed = val(p, 'placedToNeonRttMs');
  const share = newConnectionShare(p, taskMeanRps);
  return user + rtt + cpu + roundTrips * (placed * (1 + setup * share) + inNeon);
}

/** Traffic-weighted mean latency of a route over all regions. */
export function meanLatency(p, route, placement, opts) {
  const share = val(p, 'regionShare');
  return sum(REGIONS.map((r) => share[r] * latency(p, r, route, placement, opts)));
}

/** Mean over the route mix and the regions. */
export function mixLatency(p, placement, opts) {
  const mix = val(p, 'routeMix');
  return sum(Object.entries(mix).map(([route, s]) => s * meanLatency(p, route, placement, opts)));
}

/** List execution time (ms) at `rows`, from a fit over the measured levels: a + b·log10(rows). */
export function listExecMs(p, rows, label = 'default (created_at desc, limit 50)') {
  const pts = val(p, 'postgres').levels.map((l) => [Math.log10(l.rows), l.list[label].execution_ms_p50]);
  const n = pts.length;
  const mx = sum(pts.map((q) => q[0])) / n;
  const my = sum(pts.map((q) => q[1])) / n;
  const sxx = sum(pts.map((q) => (q[0] - mx) ** 2));
  const b = sxx > 0 ? sum(pts.map((q) => (q[0] - mx) * (q[1] - my))) / sxx : 0;
  const a = my - b * mx;
  // A fit over a few noisy points may slope down; never predict below what was measured.
  const floor = Math.min(...pts.map((q) => q[1]));
  return { ms: Math.max(floor, a + b * Math.log10(rows)), slopePerDecade: b };
}

/** Database load and size. */
export function database(p, users) {
  const t = traffic(p, users);
  const mix = val(p, 'routeMix');
  const level = largestLevel(p);
  const tasksPerUser = val(p, 'tasksPerUser');
  const rows = users * tasksPerUser;
  const b = level.bytes;
  const taskBytes = sum(Object.entries(b).filter(([k]) => k.startsWith('tasks')).map(([, v]) => v));
  const bytesPerTask = taskBytes / level.rows;
  // Every task request is one transaction: the RLS prefix and one statement; a create
  // also carries its user's idempotency purge (purged by the owner's requests, docs/api.md).
  const creates = t.peakPerRoute.create;
  const statementsPerS = t.taskPeakRps * 2 + creates;
  const busyCores = (t.taskPeakRps * sqlMs(p)) / 1000;
  const vcpus = busyCores / val(p, 'dbUtilisationTarget');
  const active = val(p, 'activeUserShare');
  const workingSetBytes = users * active * tasksPerUser * bytesPerTask;
  // Idempotency keys: creates concentrate on the day's active users; an active user's
  // purge leaves up to two days of keys, an inactive user keeps its last day's keys
  // until it returns (nobody else purges them).
  const idem = val(p, 'postgres').idempotency;
  const idemBytes = sum(Object.entries(b).filter(([k]) => k.startsWith('idempotency')).map(([, v]) => v));
  const bytesPerKey = idemBytes / (level.users * idem.keys_per_user);
  const keysPerDay = t.perDay * mix.create * val(p, 'idempotencyKeyShare');
  const keysPerActiveUserDay = keysPerDay / (users * active);
  const keysOwnerPurge = users * active * keysPerActiveUserDay * 2 + users * (1 - active) * keysPerActiveUserDay;
  const keysGlobalPurge = keysPerDay * 1.5;
  const listAt = listExecMs(p, rows);
  return {
    rows,
    bytesPerTask,
    tableBytes: rows * bytesPerTask,
    workingSetBytes,
    ramCuForWorkingSet: workingSetBytes / (val(p, 'neonRamGbPerCu') * 1e9),
    transactionsPerS: t.taskPeakRps,
    statementsPerS,
    vcpus,
    cu: vcpus / val(p, 'neonVcpuPerCu'),
    listExecMs: listAt.ms,
    listSlopePerDecade: listAt.slopePerDecade,
    listBuffers: level.list['default (created_at desc, limit 50)'].shared_hit + level.list['default (created_at desc, limit 50)'].shared_read,
    rlsPrefixMs: level.transaction.with_rls_prefix_ms_p50 - level.transaction.superuser_no_prefix_ms_p50,
    idempotency: {
      keysPerDay,
      bytesPerKey,
      rowsOwnerPurge: keysOwnerPurge,
      bytesOwnerPurge: keysOwnerPurge * bytesPerKey,
      rowsGlobalPurge: keysGlobalPurge,
      purgeMs: level.purge.execution_ms_p50,
    },
  };
}

/** Workers bill per month: requests and CPU time. */
export function workersCost(p, users) {
  const price = val(p, 'workersPrice');
  const mix = val(p, 'routeMix');
  const cpu = val(p, 'cpuMsPerRoute');
  const cpuMsPerRequest = sum(Object.entries(mix).map(([r, s]) => s * cpu[r]));
  const requests = users * val(p, 'requestsPerUserPerDay') * 30;
  const cpuMs = requests * cpuMsPerRequest;
  const requestUsd = (Math.max(0, requests - price.includedRequests) / 1e6) * price.usdPerMillionRequests;
  const cpuUsd = (Math.max(0, cpuMs - price.includedCpuMs) / 1e6) * price.usdPerMillionCpuMs;
  return {
    requestsPerMonth: requests,
    cpuMsPerRequest,
    cpuUsdPerMillionRequests: cpuMsPerRequest * price.usdPerMillionCpuMs,
    usdPerMonth: price.baseUsdPerMonth + requestUsd + cpuUsd,
  };
}

/** Everything for one user count. */
export function simulate(p, users) {
  return { users, traffic: traffic(p, users), jwks: jwks(p, users), database: database(p, users), cost: workersCost(p, users) };
}

/** A copy of `p` with one parameter set to `x`; object-valued ones are varied by one scalar. */
export function withValue(p, key, x) {
  const q = { ...p, [key]: { ...p[key] } };
  const v = p[key].value;
  if (key === 'routeMix') {
    const rest = 1 - v.list;
    q[key].value = Object.fromEntries(Object.entries(v).map(([r, s]) => [r, r === 'list' ? x : (s / rest) * (1 - x)]));
  } else if (key === 'regionShare') {
    const far = v.Asia + v.Oceania;
    q[key].value = Object.fromEntries(
      Object.entries(v).map(([r, s]) => [r, r === 'Asia' || r === 'Oceania' ? (s / far) * x : (s / (1 - far)) * (1 - x)]),
    );
  } else if (key === 'locationsPerRegion') {
    q[key].value = Object.fromEntries(Object.entries(v).map(([r, n]) => [r, n * x]));
  } else if (key === 'rttToRegionMs') {
    q[key].value = Object.fromEntries(
      Object.entries(v).map(([region, m]) => [region, Object.fromEntries(Object.entries(m).map(([r, ms]) => [r, ms * x]))]),
    );
  } else {
    q[key].value = x;
  }
  return q;
}

/** The figures the sensitivity table reports, at one user count. */
export function keyFigures(p, users) {
  const s = simulate(p, users);
  const o = { users };
  return {
    jwksIsolatePerHour: s.jwks.perIsolateCachePerHour,
    jwksTierPerHour: s.jwks.cacheApiTierPerHour,
    listEdgeMs: meanLatency(p, 'list', 'edge', o),
    listPlacedMs: meanLatency(p, 'list', 'placed', o),
    meEdgeMs: meanLatency(p, 'me', 'edge', o),
    mePlacedMs: meanLatency(p, 'me', 'placed', o),
    mixEdgeMs: mixLatency(p, 'edge', o),
    mixPlacedMs: mixLatency(p, 'placed', o),
    crossoverUsers: placementCrossover(p),
    dbCu: s.database.cu,
    workingSetGb: s.database.workingSetBytes / 1e9,
    idemRowsM: s.database.idempotency.rowsOwnerPurge / 1e6,
  };
}

/** One row per assumed parameter with a range: the key figures at its low and high value. */
export function sensitivity(p, users) {
  const rows = [];
  for (const [key, param] of Object.entries(p)) {
    if (param.source !== 'assumed' || !param.range) continue;
    const [lo, hi] = param.range;
    rows.push({ key, range: param.range, low: keyFigures(withValue(p, key, lo), users), high: keyFigures(withValue(p, key, hi), users) });
  }
  return rows;
}

/**
 * The smallest user count (on a grid of 10^(k/8)) from which the worker at the edge is
 * at least as fast as placed near the database, over the whole route mix; null if never
 * up to 10^8.
 */
export function placementCrossover(p) {
  for (let e = 3; e <= 8.0001; e += 0.125) {
    const users = 10 ** e;
    if (mixLatency(p, 'edge', { users }) <= mixLatency(p, 'placed', { users })) return users;
  }
  return null;
}
