/**
 * (3) Broadcast fan-out: C clients join one room, the server broadcasts M small JSON
 * messages to it. Every client checks every message arrived complete and in order; any
 * gap, reordering, corruption or timeout fails the run. Server CPU covers the window from
 * the first broadcast until the last client holds the last message.
 * Also used by (5) mixed, with half the clients on WebSocket and half on TCP.
 */
import { HOST, split } from '../lib/session.mjs';
import { ROOM } from '../lib/payloads.mjs';

const columns = [
  { key: 'clients', label: 'clients', digits: 0 },
  { key: 'messages', label: 'messages', digits: 0 },
  { key: 'deliveriesPerSec', label: 'deliveries/s', digits: 0 },
  { key: 'lastDeliveryMs', label: 'last delivery (ms)', digits: 0 },
  { key: 'cpuPerDeliveryUs', label: 'server CPU/delivery (µs)', digits: 3 },
];

/** `groups`: [{ kind, count }] per generator process, resolved against the session. */
export async function fanOut(session, groups, p) {
  const { server } = session;
  const gens = session.gens(groups.length);
  await Promise.all(gens.map((g, i) => g.call('open', { ...session.clientFor(groups[i].kind), host: HOST, count: groups[i].count, concurrency: 64 }, 120_000)));
  await Promise.all(gens.map((g) => g.call('join', { room: ROOM }, 60_000)));
  const info = await server.call('info');
  const clients = groups.reduce((a, g) => a + g.count, 0);
  if (info.roomSize !== null && info.roomSize !== clients) throw new Error(`room holds ${info.roomSize} members, expected ${clients}`);
  await Promise.all(gens.map((g) => g.call('armBroadcast', { count: p.messages })));
  await server.call('windowStart');
  const sent = await server.call('broadcast', { room: ROOM, count: p.messages, batch: p.batch }, 120_000);
  const results = await Promise.all(gens.map((g) => g.call('waitBroadcast', { timeoutMs: p.timeoutMs }, p.timeoutMs + 10_000)));
  const w = await server.call('windowStop');
  const failed = results.find((r) => !r.ok);
  if (failed) throw new Error(`FAIL: ${failed.error}`);
  const lastAt = Math.max(...results.map((r) => r.lastAt));
  const deliveries = clients * p.messages;
  const lastDeliveryMs = lastAt - sent.startAt;
  return {
    clients,
    messages: p.messages,
    deliveries,
    deliveriesPerSec: deliveries / (lastDeliveryMs / 1000),
    lastDeliveryMs,
    broadcastLoopMs: sent.loopMs,
    cpuPerDeliveryUs: w.cpuUs / deliveries,
  };
}

/**
 * The bare ws/uWS servers broadcast with the same code as the app ones (stringify once, send
 * to every member / publish): only their join differs, so broadcast runs the app flavour.
 */
export const BROADCAST_TARGETS = ['stelar-tcp', 'stelar-ws', 'stelar-tcp-floor', 'stelar-ws-floor', 'ws-app', 'socket.io', 'uws-app'];

export default {
  id: 'broadcast',
  title: 'Broadcast fan-out',
  targets: BROADCAST_TARGETS,
  serverOptions: { bare: 'room' },
  params: (quick) => ({ clients: quick ? 200 : 1_000, messages: quick ? 200 : 1_000, gens: 1, batch: 10, timeoutMs: 60_000 }),
  columns,
  async run(session, p) {
    const groups = split(p.clients, p.gens).map((count) => ({ kind: session.client.kind, count }));
    return fanOut(session, groups, p);
  },
};

export const mixed = {
  id: 'mixed',
  title: 'Mixed WebSocket + TCP StelarClients in one room',
  targets: ['stelar-mixed'],
  params: (quick) => ({ clients: quick ? 200 : 1_000, messages: quick ? 200 : 1_000, batch: 10, timeoutMs: 60_000 }),
  columns: [...columns.slice(0, 1), { key: 'split', label: 'ws / tcp', digits: 0 }, ...columns.slice(1)],
  async run(session, p) {
    const [ws, tcp] = split(p.clients, 2);
    const r = await fanOut(
      session,
      [
        { kind: 'stelar-ws', count: ws },
        { kind: 'stelar-tcp', count: tcp },
      ],
      p,
    );
    return { ...r, split: `${ws} / ${tcp}` };
  },
};
