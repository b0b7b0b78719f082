// The demo's chat logic, separate from the HTTP plumbing so tests can start it on any port.
// It only uses the public API, as an application would.
import { StelarServer } from '../dist/index.js';

const HISTORY_LIMIT = 50;
const NAME_MAX = 32;
const ROOM_RE = /^[\w-]{1,32}$/;

/**
 * @param {{ server: import('node:http').Server, tcpPort?: number, logger?: any }} opts
 */
export function createChatService({ server, tcpPort = 3001, logger = 'info' }) {
  const stelar = new StelarServer({
    server,
    tcpPort,
    logger,
    maxPayloadSize: 8 * 1024 * 1024,
    maxFrameSize: 9 * 1024 * 1024,
    rateLimit: { maxPoints: 50, windowMs: 1000 },
    eventRateLimits: { typing: { maxPoints: 10, windowMs: 1000 } },
    gracefulShutdown: false,
    hooks: {
      // Presence is recomputed after the client is gone from its rooms.
      onClientDisconnect: ({ rooms }) => {
        const list = [...rooms];
        setImmediate(() => list.forEach(sendPresence));
      },
      onRateLimitExceeded: () => false, // a chat user typing fast gets an error, not a disconnect
    },
  });

  /** @type {Map<string, Array<object>>} */
  const history = new Map();
  /** @type {Map<string, { room: string, name: string, type: string }>} */
  const pendingFiles = new Map();

  function nameOf(id) {
    const client = stelar.getClients().find((c) => c.id === id);
    const name = client?.metadata?.name;
    return typeof name === 'string' ? name : 'anonymous';
  }

  function sendPresence(room) {
    const members = stelar.getRoomMembers(room).map((id) => ({ id, name: nameOf(id) }));
    stelar.to(room, 'presence', { room, members });
  }

  function remember(room, entry) {
    let list = history.get(room);
    if (!list) history.set(room, (list = []));
    list.push(entry);
    if (list.length > HISTORY_LIMIT) list.shift();
  }

  stelar.on('hello', (ctx) => {
    const name =
      String(ctx.data?.name ?? '')
        .trim()
        .slice(0, NAME_MAX) || 'anonymous';
    ctx.setMetadata('name', name);
    for (const room of Array.isArray(ctx.data?.rooms) ? ctx.data.rooms : []) join(ctx, room);
  });

  function join(ctx, room) {
    if (typeof room !== 'string' || !ROOM_RE.test(room)) {
      ctx.emit('notice', { text: `invalid room name: ${String(room).slice(0, 40)}` });
      return;
    }
    ctx.joinRoom(room);
    sendPresence(room);
  }

  stelar.on('join', (ctx) => join(ctx, ctx.data?.room));

  stelar.on('leave', (ctx) => {
    const room = ctx.data?.room;
    if (typeof room !== 'string') return;
    ctx.leaveRoom(room);
    sendPresence(room);
  });

  stelar.on('message', (ctx) => {
    const { room, text } = ctx.data ?? {};
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) return;
    const entry = { room, from: ctx.getMetadata('name') ?? 'anonymous', text: String(text).slice(0, 2000), ts: Date.now() };
    remember(room, entry);
    ctx.to(room, 'message', entry);
  });

  stelar.on('typing', (ctx) => {
    const room = ctx.data?.room;
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) return;
    ctx.to(room, 'typing', { room, from: ctx.getMetadata('name') ?? 'anonymous' }, ctx.id);
  });

  // A file is announced as JSON, then its bytes follow as one binary packet.
  stelar.on('file-meta', (ctx) => {
    const { room, name, type } = ctx.data ?? {};
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) return;
    pendingFiles.set(ctx.id, { room, name: String(name).slice(0, 200), type: String(type).slice(0, 100) });
  });

  stelar.on('file', (ctx) => {
    const meta = pendingFiles.get(ctx.id);
    pendingFiles.delete(ctx.id);
    if (!meta || !(ctx.data instanceof Uint8Array)) return;
    const from = ctx.getMetadata('name') ?? 'anonymous';
    // Sending methods turn Buffer/Uint8Array data into a binary packet, so the bytes are never base64'd.
    stelar.to(meta.room, 'file-meta', { ...meta, from, size: ctx.data.length });
    stelar.to(meta.room, 'file', ctx.data);
  });

  stelar.onAck('history', (ctx) => {
    const room = ctx.data?.room;
    return { room, messages: history.get(room) ?? [] };
  });

  stelar.onDisconnect((client) => pendingFiles.delete(client.id));

  return stelar;
}
