// Serves the demo page and the browser bundle. Only a fixed set of files: no path joins on user input.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const FILES = {
  '/': { path: here('./public/index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { path: here('./public/index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { path: here('./public/app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { path: here('./public/style.css'), type: 'text/css; charset=utf-8' },
  '/stelar-client.mjs': { path: here('../dist/browser/stelar-client.mjs'), type: 'text/javascript; charset=utf-8' },
};

const OPS_PATHS = new Set(['/health', '/livez', '/readyz']);

/** Request listener for the demo's own files; anything else is a 404. */
export async function serveStatic(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const file = FILES[url.pathname];
  // StelarServer answers its own operational endpoints on this server.
  if (OPS_PATHS.has(url.pathname)) return;
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  try {
    const body = await readFile(file.path);
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('demo file missing: run `npm run build`');
  }
}
