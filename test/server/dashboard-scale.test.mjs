// Issue 15 C: the dashboard stays usable on a big server. Real sockets: 10,000 clients (a
// quarter over TCP, opened by a child process: dashboard-scale-clients.mjs) in 5,000 rooms,
// watched by four pages searching different things. Each tick is one page of each list
// (bounded bytes), ticks keep coming every second, searching and disconnecting work in the
// big lists, and the event loop stays responsive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startServer, until } from './helpers.mjs';
import { TOKEN, Viewer } from './dashboard-helpers.mjs';

const CLIENTS = 10_000;
const ROOMS = 5000;
const CLIENT_SCRIPT = fileURLToPath(new URL('./dashboard-scale-clients.mjs', import.meta.url));

/** Starts the client process; resolves once every client joined its rooms. */
async function startClients(server) {
  const child = spawn(process.execPath, [CLIENT_SCRIPT, server.getPort(), server.getTcpPort(), CLIENTS, ROOMS], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = once(child, 'exit');
  await Promise.race([
    until(() => /ready \d+/.test(out), `${CLIENTS} clients`, 120_000),
    exited.then(([code]) => {
      throw new Error(`the client process exited (${code}): ${out}`);
    }),
  ]);
  return {
    setupMs: Number(/ready (\d+)/.exec(out)[1]),
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

test(`${CLIENTS.toLocaleString('en')} clients in ${ROOMS.toLocaleString('en')} rooms: bounded ticks every second, server-side search and kick`, {
  timeout: 180_000,
}, async () => {
  let n = 0;
  const server = await startServer({
    dashboard: { token: TOKEN },
    maxConnections: CLIENTS + 100,
    maxConnectionsPerIP: CLIENTS + 100,
    connectionRateLimit: false,
    rateLimit: false,
    generateClientId: () => `c-${String(n++).padStart(5, '0')}`,
  });
  // Two rooms per client, joined by the server: 3,000 clients cover the 5,000 rooms.
  server.on('rooms', (ctx) => {
    for (const r of ctx.data) ctx.joinRoom(r);
    ctx.emit('joined', ctx.data.length);
  });
  const kicked = [];
  server.onDisconnect((ctx, info) => kicked.push([ctx.id, info.code]));
  const viewers = [];
  let clients;
  try {
    clients = await startClients(server);
    const setup = clients.setupMs;
    assert.equal(server.getStats().activeConnections, CLIENTS);
    assert.equal(server.getRooms().length, ROOMS);

    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const searches = [
      { clients: { q: '', page: 0 }, rooms: { q: '', page: 0 } },
      { clients: { q: 'c-0429', page: 2 }, rooms: { q: 'room-42', page: 1 } },
      { clients: { q: '', page: 499 }, rooms: { q: '', page: 249 } },
      { clients: { q: 'nothing-matches', page: 0 }, rooms: { q: 'room-4999', page: 0 } },
    ];
    for (const view of searches) {
      const v = await Viewer.open(server.getPort(), { token: TOKEN });
      await v.next((m) => m.t === 'hello', 'hello');
      v.send({ t: 'view', ...view });
      viewers.push(v);
    }
    const sizes = [];
    const windowStart = Date.now();
    const got = await Promise.all(
      viewers.map(async (v, i) => {
        const ticks = [];
        // Three ticks after the view took effect (the first one answers the view itself).
        const want = searches[i];
        await v.tick((m) => m.clients.page === Math.min(want.clients.page, Math.max(0, Math.ceil(m.clients.matched / 20) - 1)), 'the view', 5000);
        for (let k = 0; k < 3; k++) {
          const raw = await v.tick(() => true, `tick ${k}`, 3000);
          sizes.push(Buffer.byteLength(JSON.stringify(raw)));
          ticks.push(raw);
        }
        return ticks;
      }),
    );
    const windowMs = Date.now() - windowStart;
    delay.disable();

    const [all, searched, last, none] = got.map((ticks) => ticks[ticks.length - 1]);
    assert.equal(all.clients.all, CLIENTS);
    assert.equal(all.clients.rows.length, 20);
    assert.equal(all.rooms.all, ROOMS);
    assert.equal(all.rooms.rows.length, 20);
    assert.ok(all.rooms.rows.every((r) => r.members === (2 * CLIENTS) / ROOMS));
    // 'c-0429x': 10 clients, so page 2 is clamped to page 0.
    assert.equal(searched.clients.matched, 10);
    assert.equal(searched.clients.page, 0);
    assert.ok(searched.clients.rows.every((r) => r.id.startsWith('c-0429')));
    assert.equal(searched.rooms.matched, 111, 'room-42, room-420..429, room-4200..4299');
    assert.equal(last.clients.page, 499);
    assert.equal(last.clients.rows.length, 20);
    assert.equal(last.rooms.page, 249);
    assert.equal(none.clients.matched, 0);
    assert.deepEqual(none.rooms.rows, [{ name: 'room-4999', members: (2 * CLIENTS) / ROOMS }]);
    assert.equal(all.sample.ws + all.sample.tcp, CLIENTS);
    assert.equal(all.sample.tcp, CLIENTS / 4);

    const maxBytes = Math.max(...sizes);
    assert.ok(maxBytes < 16 * 1024, `largest tick ${maxBytes} bytes`);
    // Four viewers, three ticks each after their view: about 3-4 s at one tick a second.
    assert.ok(windowMs < 8000, `ticks took ${windowMs} ms`);
    const p99 = delay.percentile(99) / 1e6;
    assert.ok(p99 < 200, `event loop delay p99 ${p99.toFixed(1)} ms`);

    // Search one client out of 10,000 and disconnect it.
    const target = 'c-01234';
    viewers[0].send({ t: 'view', clients: { q: target, page: 0 }, rooms: {} });
    const found = await viewers[0].tick((m) => m.clients.matched === 1);
    assert.equal(found.clients.rows[0].id, target);
    viewers[0].send({ t: 'kick', id: target });
    assert.equal((await viewers[0].next((m) => m.t === 'kicked', 'kicked')).ok, true);
    await viewers[0].tick((m) => m.clients.matched === 0 && m.clients.all === CLIENTS - 1);
    assert.deepEqual(kicked, [[target, 4009]]);

    console.log(
      `# ${CLIENTS} clients / ${ROOMS} rooms (setup ${setup} ms): largest tick ${maxBytes} bytes, ` +
        `12 ticks to 4 viewers in ${windowMs} ms, event loop delay p99 ${p99.toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
    );
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
    await clients?.stop();
    await server.stop();
  }
});
