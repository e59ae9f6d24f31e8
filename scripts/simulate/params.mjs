// Every input of the scaling model, each labelled by where it comes from:
//   measured   — on this machine, by `npm run bench` or `npm run simulate -- --measure-db`
//                (the figure, its date and its command are in scripts/simulate/measured/)
//   documented — published by the vendor; `cite` names the page
//   assumed    — nobody publishes it (isolate counts and lifetimes, traffic shape, RTTs);
//                `range` is the low/high the sensitivity table runs the model with
// docs/scaling.md explains each one. The model (model.mjs) takes this object as it is,
// so a test or a what-if can override any value.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const readJson = (name) => JSON.parse(readFileSync(join(here, 'measured', name), 'utf8'));

export const BENCH_FILE = 'bench-2026-11-26.json';
export const POSTGRES_FILE = 'postgres.json';

export const REGIONS = ['North America', 'Europe', 'Asia', 'South America', 'Oceania', 'Africa'];

const CF_PRICING = 'Cloudflare Workers pricing, https://developers.cloudflare.com/workers/platform/pricing/';
const CF_CACHE = 'Cloudflare Workers Cache API, https://developers.cloudflare.com/workers/runtime-apis/cache/';
const NEON_CU = 'Neon autoscaling, https://neon.com/docs/introduction/autoscaling';

/** The parameters, with measured values read from the committed measurement files. */
export function defaultParams({ bench = readJson(BENCH_FILE), postgres = readJson(POSTGRES_FILE) } = {}) {
  const cpu = bench.cpu_us_per_request;
  const benchLabel = `npm run bench, ${bench.date} (${bench.machine})`;
  return {
    // ── traffic ────────────────────────────────────────────────────────────────
    requestsPerUserPerDay: {
      value: 30, unit: 'API requests / registered user / day', source: 'assumed', range: [5, 150],
      basis: 'a to-do app opened a few times a day by its active share of users; averaged over all registered users',
    },
    peakToMean: {
      value: 3, unit: '×', source: 'assumed', range: [1.5, 6],
      basis: 'busiest minute over the daily mean; regional daytimes overlap only partly',
    },
    routeMix: {
      value: { me: 0.1, list: 0.45, get: 0.1, create: 0.1, update: 0.2, delete: 0.05 },
      unit: 'share of API requests', source: 'assumed', range: [0.25, 0.65],
      basis: 'the demo frontend: lists on every view, toggles and edits more than creates; the range is the list share (the others scale to fill)',
    },
    regionShare: {
      value: { 'North America': 0.3, Europe: 0.3, Asia: 0.25, 'South America': 0.07, Oceania: 0.04, Africa: 0.04 },
      unit: 'share of users', source: 'assumed', range: [0.1, 0.5],
      basis: 'a worldwide audience; the range is the Asia + Oceania share (the others scale to fill)',
    },
    locationsPerRegion: {
      value: { 'North America': 50, Europe: 60, Asia: 70, 'South America': 25, Oceania: 10, Africa: 25 },
      unit: 'Cloudflare locations that receive this API traffic', source: 'assumed', range: [0.5, 1.5],
      basis: 'not every Cloudflare location carries a given zone’s traffic; the counts are a guess. Range: factor on every count',
    },
    // ── isolates (not published by Cloudflare) ──────────────────────────────────
    machinesPerLocation: {
      value: 40, unit: 'machines a location spreads one worker’s requests over', source: 'assumed', range: [5, 400],
      basis: 'one isolate per machine that runs the worker; not published',
    },
    isolateIdleSeconds: {
      value: 300, unit: 's an idle isolate stays alive', source: 'assumed', range: [30, 1800],
      basis: 'not published; observed lifetimes vary from seconds to hours',
    },
    isolateLifetimeSeconds: {
      value: 3600, unit: 's a busy isolate lives (evictions, deploys, restarts)', source: 'assumed', range: [300, 86400],
      basis: 'not published',
    },
    // ── JWKS (the product’s real parameters, docs/token-policy.md §6 / src/auth/jwks.rs) ─────
    jwksFreshSeconds: {
      value: 600, unit: 's', source: 'documented',
      basis: 'the product’s own setting: the default when the JWKS has no Cache-Control, which Better Auth does not send (src/auth/jwks.rs DEFAULT_FRESH_MS)',
    },
    jwksFetchSeconds: {
      value: 0.15, unit: 's from cache miss to keys (issuer round trip + import)', source: 'assumed', range: [0.02, 0.5],
      basis: 'window in which other isolates of the location also miss the shared cache',
    },
    cacheApiHitRatio: {
      value: 0.95, unit: 'share of reads of a fresh entry that find it', source: 'assumed', range: [0.5, 1],
      basis: 'the Cache API may evict; its contents stay in one data center and it does nothing on *.workers.dev (' + CF_CACHE + ')',
    },
    // ── latency ────────────────────────────────────────────────────────────────
    neonRegion: {
      value: 'aws-us-east-1', unit: '', source: 'assumed', basis: 'the database’s one region (candidates compared in the region table)',
    },
    rttToRegionMs: {
      value: {
        'aws-us-east-1': { 'North America': 35, Europe: 90, Asia: 200, 'South America': 130, Oceania: 200, Africa: 220 },
        'aws-eu-central-1': { 'North America': 100, Europe: 25, Asia: 170, 'South America': 200, Oceania: 280, Africa: 150 },
        'aws-ap-southeast-1': { 'North America': 200, Europe: 170, Asia: 70, 'South America': 320, Oceania: 100, Africa: 250 },
      },
      unit: 'ms round trip, Cloudflare location in the region → the Neon region (traffic-weighted mean)', source: 'assumed', range: [0.7, 1.4],
      basis: 'typical public-internet RTTs between continents; range: factor on every RTT',
    },
    userToEdgeRttMs: {
      value: 20, unit: 'ms, frontend → nearest Cloudflare location', source: 'assumed', range: [5, 60],
      basis: 'same for every design; shown so totals are end to end',
    },
    placedToNeonRttMs: {
      value: 2, unit: 'ms, a location next to the Neon region → Neon', source: 'assumed', range: [1, 8],
      basis: 'same metro or cloud region',
    },
    neonProxyMs: {
      value: 3, unit: 'ms inside Neon per HTTP query (proxy, pooled connection, batch)', source: 'assumed', range: [1, 10],
      basis: 'not published; the SQL itself is measured separately',
    },
    connectionIdleSeconds: {
      value: 60, unit: 's an idle connection from a Cloudflare machine to Neon’s endpoint stays open for reuse', source: 'assumed', range: [5, 600],
      basis: 'not published; connections assumed pooled per machine. The share of Neon calls that must open a new one is e^(−rK), r = task requests per second per machine',
    },
    connectionSetupRtts: {
      value: 2, unit: 'extra round trips to open a connection', source: 'documented',
      basis: 'TCP handshake (1 RTT) + TLS 1.3 full handshake (1 RTT, RFC 8446 §2)',
    },
    verifyMs: {
      value: bench.verify_overhead_eddsa_ms_c1.p50, unit: 'ms, EdDSA verification (me − health, c=1 p50); contained in the CPU of every authenticated route below', source: 'measured',
      basis: benchLabel,
    },
    cpuMsPerRoute: {
      value: {
        me: cpu.me_eddsa[0] / 1000,
        list: cpu.list_50[0] / 1000,
        get: cpu.toggle[0] / 1000,
        create: cpu.create[0] / 1000,
        update: cpu.toggle[0] / 1000,
        delete: cpu.toggle[0] / 1000,
      },
      unit: 'ms CPU per request (c=1; get/delete/update take the toggle figure)', source: 'measured', basis: benchLabel, date: bench.date,
    },
    // ── database ───────────────────────────────────────────────────────────────
    tasksPerUser: { value: 100, unit: 'tasks', source: 'assumed', range: [20, 1000], basis: 'the issue’s planning figure' },
    postgres: {
      value: postgres, unit: '', source: 'measured',
      basis: `npm run simulate -- --measure-db, ${postgres.measured_at.slice(0, 10)} (${postgres.server}, ${postgres.machine})`,
    },
    idempotencyKeyShare: {
      value: 1, unit: 'share of creates that carry an Idempotency-Key', source: 'assumed', range: [0.2, 1],
      basis: 'a careful frontend sends one on every create',
    },
    activeUserShare: {
      value: 0.2, unit: 'share of users active on a given day', source: 'assumed', range: [0.05, 0.5],
      basis: 'sets the working set (their rows must be in memory) and whose idempotency keys get purged',
    },
    dbUtilisationTarget: {
      value: 0.6, unit: 'busy share of the compute at peak', source: 'assumed', range: [0.4, 0.8], basis: 'headroom for spikes and autovacuum',
    },
    neonRamGbPerCu: { value: 4, unit: 'GB per compute unit', source: 'documented', basis: NEON_CU },
    neonVcpuPerCu: { value: 1, unit: 'vCPU per compute unit', source: 'assumed', range: [0.5, 1], basis: 'Neon ties CPU to the CU; its pages state the RAM, not the CPU in these words' },
    // ── price ─────────────────────────────────────────────────────────────────
    workersPrice: {
      value: { baseUsdPerMonth: 5, includedRequests: 10e6, usdPerMillionRequests: 0.3, includedCpuMs: 30e6, usdPerMillionCpuMs: 0.02 },
      unit: 'Workers Paid, Standard usage model', source: 'documented', basis: CF_PRICING,
    },
  };
}

/** The user counts the report covers. */
export const USER_COUNTS = [1e4, 1e5, 1e6, 1e7];
