// Reading a server's /metrics in tests: the HTTP answer, and the samples as a Map.
import http from 'node:http';
import { HOST } from './helpers.mjs';

/** GET (or another method) of `path` on `port`: { status, headers, text }. */
export function scrape(port, { path = '/metrics', token, method = 'GET', headers = {} } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, method, headers: h }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Samples of an exposition: 'name{a="x",b="y"}' (labels as written) -> value. */
export function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The samples of the server's /metrics right now (status 200 asserted by the caller's use). */
export async function readMetrics(port, options) {
  const res = await scrape(port, options);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return samples(res.text);
}

/** `after[key] - before[key]` for each key (missing = 0). */
export function delta(before, after, key) {
  if (!after.has(key)) throw new Error(`no sample ${key}`);
  return after.get(key) - (before.get(key) ?? 0);
}
