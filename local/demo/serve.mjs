// Serves the demo page from the local stack's own origin, so Better Auth's session
// cookie is first-party there and the page calls the worker cross-origin (CORS for
// real). The page's script is bundled from auth.mjs + app.mjs with esbuild when the
// stack starts: no CDN, nothing built is committed.
//
//   GET /                 the page (the worker's URL filled in)
//   GET /demo/app.js      the bundled script
//   GET /demo/style.css   optional styles

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's script: app.mjs with Better Auth's client bundled in, as one ES module. */
export async function bundleDemo() {
  const result = await build({
    entryPoints: [join(HERE, 'app.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/**
 * @param {{ workerUrl: string | (() => string) }} options
 *   workerUrl: where the page sends API calls; a function is asked per page load (a
 *   test knows the worker's port only after the stack is up).
 * @returns {Promise<(req, res) => boolean>} answers the demo's paths, false for others
 */
export async function createDemoHandler({ workerUrl }) {
  const [script, template, style] = await Promise.all([
    bundleDemo(),
    readFile(join(HERE, 'index.html'), 'utf8'),
    readFile(join(HERE, 'style.css'), 'utf8'),
  ]);
  const resolveWorker = typeof workerUrl === 'function' ? workerUrl : () => workerUrl;

  function send(req, res, type, body, extra = {}) {
    req.resume();
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  return function handleDemo(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = req.url.split('?')[0];
    if (path === '/' || path === '/index.html') {
      const api = new URL(resolveWorker()).origin;
      const html = template.replaceAll('{{WORKER_URL}}', escapeHtml(api));
      // Only this origin's script and styles run, and only Better Auth (same origin)
      // and the worker are reachable.
      const csp = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        'img-src data:',
        `connect-src 'self' ${api}`,
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ');
      send(req, res, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': csp, 'Referrer-Policy': 'no-referrer' });
      return true;
    }
    if (path === '/demo/app.js') {
      send(req, res, 'text/javascript; charset=utf-8', script);
      return true;
    }
    if (path === '/demo/style.css') {
      send(req, res, 'text/css; charset=utf-8', style);
      return true;
    }
    return false;
  };
}
