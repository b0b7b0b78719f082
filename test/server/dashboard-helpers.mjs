// A dashboard viewer without a browser: the live channel through the `ws` package, and the
// page over plain HTTP, so the server side of the dashboard is tested on its own.
import http from 'node:http';
import WebSocket from 'ws';
import { TIMEOUT } from './helpers.mjs';

export const TOKEN = 'test-token-0123456789abcdef';

/** GET (or another method) of `path`; resolves { status, headers, body } with the body as text. */
export function get(port, path, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** One connection to the live channel; `auth` sends the token message at once. */
export class Viewer {
  constructor(port, { path = '/dashboard', headers, origin } = {}) {
    this.inbox = [];
    this.waiters = [];
    this.closeInfo = null;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers, origin });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused: ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiters.slice()) w();
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      this.inbox.push(JSON.parse(data.toString()));
      for (const w of this.waiters.slice()) w();
    });
  }

  static async open(port, options = {}) {
    const v = new Viewer(port, options);
    await v.opened;
    if (options.token !== undefined) v.send({ t: 'auth', token: options.token });
    return v;
  }

  send(message) {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves with (and removes) the first message matching `pred`; rejects on close or timeout. */
  next(pred, what = 'message', timeout = TIMEOUT) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.inbox.findIndex(pred);
        if (i !== -1) {
          done();
          resolve(this.inbox.splice(i, 1)[0]);
        } else if (this.closeInfo) {
          done();
          reject(new Error(`closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  /** The next tick whose content satisfies `pred` (older ones are dropped). */
  async tick(pred = () => true, what = 'tick', timeout = TIMEOUT) {
    const end = Date.now() + timeout;
    for (;;) {
      const m = await this.next((x) => x.t === 'tick', what, Math.max(1, end - Date.now()));
      if (pred(m)) return m;
    }
  }

  close() {
    this.ws.terminate();
    return this.closed;
  }
}
