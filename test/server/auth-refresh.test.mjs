// Issue 17 item 2: auth that refreshes. Middleware gives a connection an expiry
// (ctx.setExpiry); before it passes the server asks the client for fresh credentials (a
// Connect { refresh } on the open session), the client's auth function answers, the same
// middleware chain checks them without dropping the connection; no answer, a refused answer,
// or a client that cannot refresh is closed with 4010 (STELAR_ERR_AUTH_EXPIRED).
// Tokens here are "user:expiresAtMs".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode, ErrorCode, StelarClient } from '../../dist/index.js';
import { closeAll, delay, openTcp, openWs, PacketType, startServer, until } from './helpers.mjs';

/** Expiries in these tests: short, with a lead time shorter still. */
const LIFETIME = 800;
const LEAD = 300;

const token = (user, ms = LIFETIME) => `${user}:${Date.now() + ms}`;

/** The middleware of every test: checks the token, names the user, sets the expiry from it. */
function checkToken(ctx, next) {
  const [user, exp] = String(ctx.data?.token ?? '').split(':');
  if (!user || user.startsWith('banned')) return next(new Error(`${user || 'nobody'} may not connect`));
  ctx.setMetadata('user', user);
  ctx.setMetadata('checks', (ctx.getMetadata('checks') ?? 0) + 1);
  if (exp !== 'never') ctx.setExpiry(Number(exp));
  next();
}

async function server(options = {}) {
  const s = await startServer({ authRefreshLeadTime: LEAD, ...options });
  s.use(checkToken);
  return s;
}

const addressOf = (s, mode) => (mode === 'tcp' ? `127.0.0.1:${s.getTcpPort()}` : s.getPort());

/** A raw client (no StelarClient) of `mode`: its Connect says what we choose. */
async function raw(s, mode, data) {
  const c = mode === 'tcp' ? await openTcp(s.getTcpPort()) : await openWs(s.getPort());
  c.sendPacket({ type: PacketType.CONNECT, event: '', data });
  return c;
}

function events(client) {
  const seen = [];
  client.on('disconnect', (info) => seen.push(`disconnect ${info.code}`));
  client.on('error', (err) => seen.push(`error ${err.code}`));
  client.on('connect', (info) => seen.push(`connect${info.recovered ? ' recovered' : ''}`));
  return seen;
}

for (const mode of ['ws', 'tcp']) {
  describe(`auth refresh over ${mode}`, () => {
    test('refresh succeeds: same connection, id and rooms; the new metadata is visible; the next expiry is refreshed too', async () => {
      const s = await server();
      const users = ['ada', 'ada-2', 'ada-3', 'ada-4'];
      let calls = 0;
      const client = new StelarClient(addressOf(s, mode), { mode, logger: false, auth: async () => ({ token: token(users[calls++]) }) });
      const seen = events(client);
      try {
        client.joinRoom('lab');
        await new Promise((resolve) => client.connect(resolve));
        const id = client.getId();
        const socketBefore = s.getClients()[0];
        assert.equal(socketBefore.metadata.user, 'ada');
        // Asked at expiry - lead: the auth function runs again and the chain accepts it.
        await until(() => s.getClients()[0]?.metadata.user === 'ada-2', 'the refreshed user');
        const after = s.getClients()[0];
        assert.equal(after.id, id);
        assert.equal(after.metadata.checks, 2, 'the chain ran again, on the same metadata');
        assert.equal(after.connectedAt, socketBefore.connectedAt, 'the same session');
        assert.deepEqual(after.rooms, ['lab']);
        assert.deepEqual(s.getRoomMembers('lab'), [id]);
        assert.equal(s.getStats().totalConnections, 1, 'no second connection');
        // And again for the refreshed expiry, past the first one.
        await until(() => s.getClients()[0]?.metadata.user === 'ada-3', 'the second refresh', 5000);
        assert.equal(client.getId(), id);
        assert.deepEqual(seen, ['connect'], 'no disconnect, no error');
        const echoed = new Promise((resolve) => client.once('pong', resolve));
        s.to('lab', 'pong', 'still here');
        assert.equal(await echoed, 'still here');
      } finally {
        client.disconnect();
        await s.stop();
      }
    });

    test('a refused refresh closes with 4010 and the Error STELAR_ERR_AUTH_EXPIRED; the client reconnects with new credentials', async () => {
      const s = await server();
      const users = ['bob', 'banned-now', 'bob-again'];
      let calls = 0;
      const client = new StelarClient(addressOf(s, mode), {
        mode,
        logger: false,
        customReconnectDelay: () => 20,
        auth: () => ({ token: token(users[Math.min(calls++, 2)], calls > 2 ? 60_000 : LIFETIME) }),
      });
      const seen = events(client);
      try {
        await new Promise((resolve) => client.connect(resolve));
        const first = client.getId();
        await until(() => seen.length >= 4, 'refusal and reconnection', 5000);
        assert.deepEqual(seen.slice(0, 4), ['connect', `error ${ErrorCode.AUTH_EXPIRED}`, `disconnect ${CloseCode.AUTH_EXPIRED}`, 'connect']);
        assert.equal(calls, 3, 'asked once, refused, then a new connection with new credentials');
        assert.notEqual(client.getId(), first);
        assert.equal(s.getClients()[0].metadata.user, 'bob-again');
      } finally {
        client.disconnect();
        await s.stop();
      }
    });

    test('a client that offered refresh but does not answer is closed with 4010 at the expiry, not before', async () => {
      const s = await server();
      const c = await raw(s, mode, { v: 1, auth: { token: token('cat') }, refresh: true });
      try {
        const welcome = await c.next(PacketType.CONNECT);
        assert.equal(typeof welcome.data.id, 'string');
        const asked = await c.next(PacketType.CONNECT);
        const askedAt = Date.now();
        assert.equal(typeof asked.data.refresh, 'number');
        assert.ok(asked.data.refresh > 0 && asked.data.refresh <= LIFETIME, `ms left: ${asked.data.refresh}`);
        const error = await c.next(PacketType.ERROR);
        assert.equal(error.event, ErrorCode.AUTH_EXPIRED);
        assert.match(error.data.message, /no fresh credentials/);
        assert.equal((await c.closed).code, CloseCode.AUTH_EXPIRED);
        assert.ok(Date.now() - askedAt >= asked.data.refresh - 30, 'closed at the expiry');
        await until(() => s.getStats().activeConnections === 0, 'gone on the server');
      } finally {
        await closeAll(c);
        await s.stop();
      }
    });

    test('an old client (no refresh offer) is never asked: it is closed with 4010 at the expiry', async () => {
      const s = await server();
      const started = Date.now();
      const c = await raw(s, mode, { v: 1, auth: { token: token('old') } });
      try {
        await c.next(PacketType.CONNECT);
        const error = await c.next(PacketType.ERROR);
        assert.equal(error.event, ErrorCode.AUTH_EXPIRED);
        assert.equal((await c.closed).code, CloseCode.AUTH_EXPIRED);
        assert.ok(Date.now() - started >= LIFETIME - 30, `closed after ${Date.now() - started} ms`);
        assert.equal(c.inbox.filter((p) => p.type === PacketType.CONNECT).length, 0, 'no refresh request');
      } finally {
        await closeAll(c);
        await s.stop();
      }
    });

    test('a StelarClient without credentials does not offer refresh; closed at the expiry, it reconnects (4010: at once)', async () => {
      const s = await startServer({ authRefreshLeadTime: LEAD });
      s.onConnection((ctx) => ctx.setExpiry(Date.now() + 200)); // e.g. from a cookie read at the upgrade
      const client = new StelarClient(addressOf(s, mode), { mode, logger: false, customReconnectDelay: () => 20 });
      const seen = events(client);
      try {
        await new Promise((resolve) => client.connect(resolve));
        await until(() => seen.length >= 4, 'expiry and reconnection', 5000);
        assert.deepEqual(seen.slice(0, 4), ['connect', `error ${ErrorCode.AUTH_EXPIRED}`, `disconnect ${CloseCode.AUTH_EXPIRED}`, 'connect']);
      } finally {
        client.disconnect();
        await s.stop();
      }
    });
  });
}

describe('auth refresh: the rules around it', () => {
  test('credentials whose expiry has already passed are refused at the handshake (Error, 4010, no session)', async () => {
    const s = await server();
    const c = await raw(s, 'ws', { v: 1, auth: { token: token('late', -1000) }, refresh: true });
    try {
      const error = await c.next(PacketType.ERROR);
      assert.equal(error.event, ErrorCode.AUTH_EXPIRED);
      assert.equal((await c.closed).code, CloseCode.AUTH_EXPIRED);
      assert.equal(c.inbox.filter((p) => p.type === PacketType.CONNECT).length, 0);
      assert.equal(s.getStats().totalConnections, 0);
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test("packets sent after the answer wait for the chain's verdict: they see the refreshed metadata", async () => {
    const s = await startServer({ authRefreshLeadTime: LEAD });
    s.use(async (ctx, next) => {
      if (ctx.eventName === 'refresh') await delay(80); // a slow check, e.g. a database lookup
      next();
    });
    s.use(checkToken);
    const seen = [];
    s.on('who', (ctx) => seen.push(ctx.getMetadata('user')));
    const c = await raw(s, 'tcp', { v: 1, auth: { token: token('dan') }, refresh: true });
    try {
      await c.next(PacketType.CONNECT);
      c.emit('who');
      await c.next(PacketType.CONNECT); // the request
      c.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: { token: token('dan-2', 60_000) } } });
      c.emit('who');
      await until(() => seen.length === 2, 'both events');
      assert.deepEqual(seen, ['dan', 'dan-2']);
      // The new expiry is a minute away: still connected after the old one passed.
      await delay(LIFETIME);
      assert.equal(c.closeInfo, null);
      assert.equal(s.getStats().activeConnections, 1);
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test('an answer nobody asked for, and a second answer, are ignored (no middleware run)', async () => {
    const s = await server();
    const c = await raw(s, 'ws', { v: 1, auth: { token: token('eve', 60_000) }, refresh: true });
    try {
      await c.next(PacketType.CONNECT);
      c.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: { token: 'banned:1' } } });
      const ack = await c.request('nothing');
      assert.equal(ack.ok, false); // a round trip: the Connect before it was handled
      assert.equal(s.getClients()[0].metadata.checks, 1);
      assert.equal(c.closeInfo, null);
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test('a refresh whose chain sets no expiry leaves the connection without one', async () => {
    const s = await server();
    const c = await raw(s, 'ws', { v: 1, auth: { token: token('fay') }, refresh: true });
    try {
      await c.next(PacketType.CONNECT);
      await c.next(PacketType.CONNECT);
      c.sendPacket({ type: PacketType.CONNECT, event: '', data: { v: 1, auth: { token: 'fay:never' } } });
      await delay(LIFETIME + 100);
      assert.equal(c.closeInfo, null);
      assert.equal(s.getClients()[0].metadata.checks, 2);
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test('setExpiry from a handler applies at once: an expiry now closes with 4010', async () => {
    const s = await server();
    s.on('logout', (ctx) => ctx.setExpiry(new Date()));
    const c = await raw(s, 'tcp', { v: 1, auth: { token: token('gus', 60_000) }, refresh: true });
    try {
      await c.next(PacketType.CONNECT);
      c.emit('logout');
      assert.equal((await c.closed).code, CloseCode.AUTH_EXPIRED);
      assert.equal(c.inbox.filter((p) => p.type === PacketType.CONNECT).length, 0, 'not asked: no time left');
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test('setExpiry refuses what is not a time; expiresAt reads it back', async () => {
    const s = await startServer();
    const results = [];
    s.onConnection((ctx) => {
      for (const bad of [Number.NaN, Infinity, '2030-01-01', new Date('nope'), undefined]) {
        try {
          ctx.setExpiry(bad);
          results.push('accepted');
        } catch (err) {
          results.push(err.name);
        }
      }
      const at = Date.now() + 60_000;
      results.push(ctx.setExpiry(at) === ctx, ctx.expiresAt === at);
      ctx.setExpiry(null);
      results.push(ctx.expiresAt);
    });
    const c = await raw(s, 'ws', { v: 1 });
    try {
      await c.next(PacketType.CONNECT);
      await until(() => results.length === 8, 'the checks');
      assert.deepEqual(results, ['TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', true, true, null]);
    } finally {
      await closeAll(c);
      await s.stop();
    }
  });

  test('recovery state survives a refresh: after a drop the client resumes the same session', async () => {
    const s = await server({ recovery: true });
    const users = ['hal', 'hal-2', 'hal-3'];
    let calls = 0;
    const client = new StelarClient(s.getPort(), {
      logger: false,
      recovery: true,
      customReconnectDelay: () => 20,
      auth: () => ({ token: token(users[Math.min(calls++, 2)], calls > 2 ? 60_000 : LIFETIME) }),
    });
    const seen = events(client);
    try {
      client.joinRoom('news');
      await new Promise((resolve) => client.connect(resolve));
      const id = client.getId();
      await until(() => s.getClients()[0]?.metadata.user === 'hal-2', 'the refresh');
      const missed = new Promise((resolve) => client.once('headline', resolve));
      s.disconnect(id, 4000, 'network blip');
      s.to('news', 'headline', 'while away');
      assert.equal(await missed, 'while away');
      assert.deepEqual(seen, ['connect', 'disconnect 4000', 'connect recovered']);
      assert.equal(client.getId(), id);
    } finally {
      client.disconnect();
      await s.stop();
    }
  });
});
