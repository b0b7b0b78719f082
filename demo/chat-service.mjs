// The demo's chat logic, separate from the HTTP plumbing so tests can start it on any port.
// It only uses the public API, as an application would.
import { randomUUID } from 'node:crypto';
import { StelarServer } from '../dist/index.js';
import { createMemoryHistory } from './history-store.mjs';

export const NAME_MAX = 32;
export const ROOM_RE = /^[\w-]{1,32}$/;
const TEXT_MAX = 2000;
const FILE_MAX = 8 * 1024 * 1024;

/** The name a client gave, or '' when it gave none worth showing (whitespace and control characters do not count). */
export function cleanName(raw) {
  if (typeof raw !== 'string') return '';
  return raw
    .replace(/\p{Cc}/gu, '')
    .trim()
    .slice(0, NAME_MAX)
    .trim();
}

/** An error whose `code` reaches the client as the request's error code. */
function refuse(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * @param {{ server: import('node:http').Server, tcpPort?: number, logger?: any, history?: object,
 *           messageRateLimit?: { maxPoints: number, windowMs: number } }} opts
 */
export function createChatService({
  server,
  tcpPort = 3001,
  logger = 'info',
  history = createMemoryHistory(),
  messageRateLimit = { maxPoints: 5, windowMs: 3000 },
}) {
  const stelar = new StelarServer({
    server,
    tcpPort,
    logger,
    maxPayloadSize: FILE_MAX + 64 * 1024,
    maxFrameSize: FILE_MAX + 128 * 1024,
    rateLimit: { maxPoints: 50, windowMs: 1000 },
    eventRateLimits: { typing: { maxPoints: 10, windowMs: 1000 }, message: messageRateLimit },
    // A short outage (a dropped Wi-Fi, a proxy restart) resumes the same session and replays what was missed.
    recovery: { maxDisconnectionDuration: 120_000, maxMessages: 1000 },
    gracefulShutdown: false,
    hooks: {
      // Every join goes through here, those the client repeats after a reconnection included.
      onClientJoinRoom: ({ room }) => {
        if (!ROOM_RE.test(room)) return false;
        setImmediate(sendPresence, room); // after the join happened
        return true;
      },
      onClientLeaveRoom: ({ room }) => {
        setImmediate(sendPresence, room);
        return true;
      },
      // Presence is recomputed after the client is gone from its rooms.
      onClientDisconnect: ({ rooms }) => {
        const list = [...rooms];
        setImmediate(() => list.forEach(sendPresence));
      },
      onRateLimitExceeded: () => false, // a chat user typing fast gets an error, not a disconnect
    },
  });

  // Identity travels with the connection (the client's `auth`), so nothing, not even a message queued
  // while offline and sent before the page's own code runs, can arrive from nobody.
  stelar.use((ctx, next) => {
    const name = cleanName(ctx.data?.name);
    if (!name) return next(new Error('a name is required'));
    ctx.setMetadata('name', name);
    next();
  });

  /** @type {Map<string, { room: string, name: string, type: string }>} */
  const pendingFiles = new Map();

  function sendPresence(room) {
    const members = stelar.getClients(room).map((c) => ({ id: c.id, name: c.metadata.name }));
    stelar.to(room, 'presence', { room, members });
  }

  /** The room named in a request, if it is valid and the client is in it. */
  function memberRoom(ctx) {
    const room = ctx.data?.room;
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) throw refuse('NOT_IN_ROOM', `not in room ${String(room).slice(0, 40)}`);
    return room;
  }

  stelar.onAck('join', async (ctx) => {
    const room = ctx.data?.room;
    if (typeof room !== 'string' || !ROOM_RE.test(room)) {
      throw refuse('BAD_ROOM', `invalid room name "${String(room).slice(0, 40)}": use 1-32 letters, digits, - or _`);
    }
    if (!ctx.joinRoom(room)) throw refuse('ROOM_REFUSED', `the server refused room ${room}`);
    return { room, messages: await history.recent(room) };
  });

  stelar.onAck('leave', (ctx) => {
    ctx.leaveRoom(memberRoom(ctx));
    return true;
  });

  stelar.onAck('history', async (ctx) => {
    const room = memberRoom(ctx);
    return { room, messages: await history.recent(room) };
  });

  // Sending is a request: the answer is the stored message, which turns the sender's "pending" line final.
  // `cid` is the sender's own id for the line; a request re-sent after a lost answer is not posted twice.
  stelar.onAck('message', async (ctx) => {
    const room = memberRoom(ctx);
    const { text, cid } = ctx.data;
    if (typeof text !== 'string' || !text.trim()) throw refuse('EMPTY', 'empty message');
    const from = ctx.getMetadata('name');
    const key = typeof cid === 'string' ? cid.slice(0, 64) : undefined;
    if (key) {
      const earlier = (await history.recent(room)).find((m) => m.cid === key && m.from === from);
      if (earlier) return earlier;
    }
    const entry = { id: randomUUID(), cid: key, room, from, text: text.slice(0, TEXT_MAX), ts: Date.now() };
    await history.add(room, entry);
    ctx.to(room, 'message', entry, ctx.id); // the sender has it from the answer
    return entry;
  });

  stelar.on('typing', (ctx) => {
    const room = ctx.data?.room;
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) return;
    ctx.to(room, 'typing', { room, from: ctx.getMetadata('name') }, ctx.id);
  });

  // A file is announced as JSON, then its bytes follow as one binary packet.
  stelar.on('file-meta', (ctx) => {
    const { room, name, type } = ctx.data ?? {};
    if (typeof room !== 'string' || !ctx.clientInfo.rooms.has(room)) {
      ctx.emit('notice', { text: `file not shared: not in room ${String(room).slice(0, 40)}` });
      return;
    }
    pendingFiles.set(ctx.id, { room, name: String(name).slice(0, 200), type: String(type).slice(0, 100) });
  });

  stelar.on('file', (ctx) => {
    const meta = pendingFiles.get(ctx.id);
    pendingFiles.delete(ctx.id);
    if (!meta || !(ctx.data instanceof Uint8Array)) return;
    const from = ctx.getMetadata('name');
    // Sending methods turn Buffer/Uint8Array data into a binary packet, so the bytes are never base64'd.
    stelar.to(meta.room, 'file-meta', { ...meta, from, size: ctx.data.length, ts: Date.now() });
    stelar.to(meta.room, 'file', ctx.data);
  });

  stelar.onDisconnect((client) => pendingFiles.delete(client.id));

  return stelar;
}
