// Graceful shutdown lets accepted work finish (issue 12, item 7). Requests whose handler has
// started are answered before the 1001; requests that arrive once the shutdown began are
// refused with STELAR_ERR_SHUTTING_DOWN; a handler that never settles does not hold the
// shutdown past shutdownTimeout. Real clients over both transports, in process; one SIGTERM
// case against the shutdown fixture in a child process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarClient } from '../../dist/index.js';
import { guard, HOST, PacketType, rawTcp, rawWs, shutdownServerProcess, startServer, until } from './helpers.mjs';

const HANDLER_MS = 500;

/** A connected StelarClient that does not reconnect (the server is going away). */
async function client(server, mode) {
  const port = mode === 'tcp' ? server.getTcpPort() : server.getPort();
  const c = new StelarClient(`${HOST}:${port}`, { mode, logger: 'silent', reconnection: false });
  const closed = new Promise((resolve) => c.once('disconnect', (info) => resolve(info.code)));
  const connected = new Promise((resolve) => c.once('connect', resolve));
  c.connect();
  await guard(connected, `${mode} connect`);
  return { c, closed };
}

/** Settles a request to { ok, value } or { ok: false, code, message } (never rejects). */
const outcome = (p) =>
  p.then(
    (value) => ({ ok: true, value }),
    (err) => ({ ok: false, code: err.code, message: err.message }),
  );

describe('graceful shutdown finishes the requests it accepted', { concurrency: true }, () => {
  test('20 clients (ws + tcp) with a 500 ms request in flight: every one is answered, then 1001', async () => {
    const server = await startServer({ shutdownTimeout: 5000 });
    const started = new Set();
    const timers = new Set();
    const later = (ms, fn) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    };
    // An async onAck handler (the answer is its promise) ...
    server.onAck('slow', async (ctx) => {
      started.add(ctx.data.key);
      await new Promise((resolve) => later(HANDLER_MS, resolve));
      return { key: ctx.data.key, done: true };
    });
    // ... and a plain handler that answers later through ctx.ack.
    server.on('slow-plain', (ctx) => {
      started.add(ctx.data.key);
      later(HANDLER_MS, () => ctx.ack('slow-plain', { key: ctx.data.key, done: true }));
    });
    const clients = [];
    try {
      for (let i = 0; i < 20; i++) clients.push(await client(server, i % 2 ? 'tcp' : 'ws'));
      const requests = clients.map(({ c }, i) => {
        const key = `k${i}`;
        const event = i % 4 < 2 ? 'slow' : 'slow-plain';
        return outcome(c.request(event, { key }, event, { timeout: 15_000 }));
      });
      await until(() => started.size === 20, 'every handler started');
      const t0 = Date.now();
      const shutdown = server.shutdown('test');
      assert.equal(server.isShuttingDown, true);
      // A request made once the shutdown began is refused, not started.
      const late = await guard(outcome(clients[0].c.request('slow', { key: 'late' }, 'slow', { timeout: 15_000 })), 'the late request');
      const results = await guard(Promise.all(requests), 'the answers');
      const closes = await guard(Promise.all(clients.map((x) => x.closed)), 'the closes');
      await guard(shutdown, 'shutdown()');
      const took = Date.now() - t0;

      assert.deepEqual(
        results,
        clients.map((_, i) => ({ ok: true, value: { key: `k${i}`, done: true } })),
      );
      assert.equal(late.ok, false);
      assert.equal(late.code, 'STELAR_ERR_SHUTTING_DOWN');
      assert.equal(started.has('late'), false, 'the late request was not handled');
      assert.deepEqual(
        closes,
        clients.map(() => 1001),
      );
      console.log(`shutdown with 20 requests in flight: 20/20 answered, shutdown took ${took} ms (handlers ${HANDLER_MS} ms)`);
    } finally {
      for (const t of timers) clearTimeout(t);
      for (const { c } of clients) c.disconnect();
      await server.stop();
    }
  });

  test('a handler that never settles does not hold the shutdown past shutdownTimeout', async () => {
    const shutdownTimeout = 1500;
    const server = await startServer({ shutdownTimeout });
    let startedHung = false;
    server.onAck('hang', () => {
      startedHung = true;
      return new Promise(() => {});
    });
    const { c, closed } = await client(server, 'ws');
    try {
      const hung = outcome(c.request('hang', null, 'hang', { timeout: 15_000 }));
      await until(() => startedHung, 'the handler started');
      const t0 = Date.now();
      await guard(server.shutdown('test'), 'shutdown()');
      const took = Date.now() - t0;
      const code = await guard(closed, 'the close');
      const r = await guard(hung, 'the hung request');
      assert.equal(code, 1001);
      assert.equal(r.ok, false);
      assert.equal(r.code, 'STELAR_ERR_CONNECTION_CLOSED');
      // It waited for the handler (most of the budget), and not past it.
      assert.ok(took >= shutdownTimeout * 0.6, `shutdown took ${took} ms: did not wait for the handler`);
      assert.ok(took < shutdownTimeout + 500, `shutdown took ${took} ms (shutdownTimeout ${shutdownTimeout})`);
      console.log(`shutdown with a handler that never settles: ${took} ms (shutdownTimeout ${shutdownTimeout})`);
    } finally {
      c.disconnect();
      await server.stop();
    }
  });

  test('SIGTERM with slow requests in flight: each is answered before the 1001, then the process ends', async () => {
    const shutdownTimeout = 5000;
    const { child, lines, exited, ...ready } = await shutdownServerProcess({ shutdownTimeout, slowMs: HANDLER_MS });
    const peers = [];
    try {
      for (let i = 0; i < 10; i++) peers.push(i % 2 ? await rawTcp(ready.tcpPort) : await rawWs(ready.port));
      await Promise.all(peers.map((p) => p.connect()));
      // Each peer records, in order, its answers and the close.
      const seen = peers.map(() => []);
      peers.forEach((p, i) => {
        p.onPacket = (packet) => {
          if (packet.type !== PacketType.ACK_RESPONSE) return false;
          seen[i].push(packet.ok ? packet.data.key : `refused:${packet.data.code}`);
          return true;
        };
        p.send({ type: PacketType.ACK_REQUEST, event: 'slow', ackId: 1, data: { key: `s${i}` } });
      });
      await until(() => lines.filter((l) => l.type === 'started').length === 10, 'every handler started');
      const killedAt = Date.now();
      child.kill('SIGTERM');
      const codes = await Promise.all(
        peers.map(async (p, i) => {
          const code = await p.closeCode(15_000);
          seen[i].push(`close:${code}`);
          await p.finishClose();
          return code;
        }),
      );
      const exit = await guard(exited, 'process exit', shutdownTimeout + 10_000);
      assert.deepEqual(
        seen,
        peers.map((_, i) => [`s${i}`, 'close:1001']),
      );
      assert.deepEqual(
        codes,
        peers.map(() => 1001),
      );
      assert.equal(exit.signal, 'SIGTERM');
      assert.ok(exit.at - killedAt < shutdownTimeout, `exited ${exit.at - killedAt} ms after SIGTERM`);
      console.log(`SIGTERM with 10 slow requests in flight: 10/10 answered before the 1001, exit ${exit.at - killedAt} ms after SIGTERM`);
    } finally {
      for (const p of peers) await p.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
