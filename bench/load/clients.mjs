/**
 * Client adapters for the load generator, one per wire protocol, all with the same small
 * callback API (no promises on the hot path, so the generator stays cheap):
 *
 *   const c = await connect(kind, { host, port })
 *   c.join(room, cb)          cb() once the server confirmed the membership
 *   c.request(data, cb)       one request/response (echo / ACK); cb(replyData)
 *   c.emit(data)              one fire-and-forget event 'ev'
 *   c.pressure()              bytes queued on the client side (backpressure signal)
 *   c.onceDrain(cb)           cb when the queue drained (or on the next turn if nothing waits)
 *   c.cork() / c.uncork()     coalesce a burst of sends into one write (StelarClient does it
 *                             per tick by itself: no-op there; socket.io's engine too)
 *   c.onBroadcast = fn(data)  every broadcast message 'b', decoded
 *   c.close()
 *
 * Kinds:
 *   stelar-ws, stelar-tcp      StelarClient from dist/client, as users run it (the stelar rows)
 *   stelar-ws-floor, -tcp-floor  the transport floor: raw sockets (the ws client + the packet
 *                              codec, or net + the length prefix) with a hand-written encoder
 *                              and corked bursts, the cheapest client the wire allows
 *   ws                         the `ws` client with the JSON envelope { t, ... } (ws-*, uws-*)
 *   socketio                   socket.io-client, websocket transport only
 * Stelar code (client and codec) comes from stelarDist(), so --stelar-dist swaps it too.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { ROOT, stelarDist } from '../lib/targets.mjs';

const require = createRequire(join(ROOT, 'package.json'));
const CONNECT_TIMEOUT_MS = 20_000;

function withTimeout(what, setup) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    setup(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function onceDrainOf(socket, cb) {
  if (socket?.writableNeedDrain) socket.once('drain', cb);
  else setImmediate(cb);
}

function noop() {}

// ---------------------------------------------------------------------------------------
// ws and uWS targets: JSON text envelope { t, ... }, one ws.send() per message. The flood
// corks the socket around each burst: ws has no write batching of its own, StelarClient
// batches a tick's messages into one write by itself, and without corking the ws rows would
// compare a syscall per message (client and server side) against a write per burst.

async function connectJsonWs({ host, port }) {
  const ws = new WebSocket(`ws://${host}:${port}/`, { perMessageDeflate: false });
  let pendingReply = null;
  let pendingId = 0;
  let nextId = 1;
  let joined = null;
  const client = {
    onBroadcast: noop,
    join(room, cb) {
      joined = cb;
      ws.send(JSON.stringify({ t: 'join', room }));
    },
    request(data, cb) {
      pendingId = nextId++;
      pendingReply = cb;
      ws.send(JSON.stringify({ t: 'echo', id: pendingId, d: data }));
    },
    emit(data) {
      ws.send(JSON.stringify({ t: 'ev', d: data }));
    },
    pressure: () => ws.bufferedAmount,
    onceDrain: (cb) => onceDrainOf(ws._socket, cb),
    cork: () => ws._socket.cork(),
    uncork: () => ws._socket.uncork(),
    close: () => ws.terminate(),
  };
  ws.on('message', (buf) => {
    const msg = JSON.parse(buf.toString());
    switch (msg.t) {
      case 'b':
        client.onBroadcast(msg.d);
        break;
      case 'echo': {
        if (msg.id !== pendingId) throw new Error(`echo reply ${msg.id} for request ${pendingId}`);
        const cb = pendingReply;
        pendingReply = null;
        cb(msg.d);
        break;
      }
      case 'joined': {
        const cb = joined;
        joined = null;
        cb?.();
        break;
      }
    }
  });
  await withTimeout('ws open', (resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', (err) => console.error('[gen] ws client error:', err.message));
  return client;
}

// ---------------------------------------------------------------------------------------
// socket.io (websocket transport only)

async function connectSocketIo({ host, port }) {
  const { io } = require('socket.io-client');
  const socket = io(`http://${host}:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT_MS });
  const client = {
    onBroadcast: noop,
    join(room, cb) {
      socket.emit('join', room, cb);
    },
    request(data, cb) {
      socket.emit('echo', data, cb);
    },
    emit(data) {
      socket.emit('ev', data);
    },
    pressure() {
      const engine = socket.io.engine;
      const queued = engine.writeBuffer.length * 64; // packets not yet handed to the transport
      return queued + (engine.transport?.ws?.bufferedAmount ?? 0);
    },
    onceDrain(cb) {
      onceDrainOf(socket.io.engine.transport?.ws?._socket, cb);
    },
    // engine.io-client already coalesces the packets of one tick into one transport write.
    cork: noop,
    uncork: noop,
    close: () => socket.disconnect(),
  };
  socket.on('b', (data) => client.onBroadcast(data));
  await withTimeout('socket.io connect', (resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return client;
}

// ---------------------------------------------------------------------------------------
// The stelar transport floor: packets from dist/protocol (built by `npm run build`), raw sockets.

let protocol = null;
async function loadProtocol() {
  if (!protocol) {
    const P = await import(pathToFileURL(join(stelarDist(), 'protocol', 'index.js')).href);
    checkFastEncoder(P);
    protocol = P;
  }
  return protocol;
}

/**
 * Node-only encoder for the generator's hot path (JSON events and ACK requests): one
 * Buffer.allocUnsafe and two string writes, instead of encodePacket's TextEncoder calls,
 * so the generator costs less than the server it measures. Checked byte for byte against
 * encodePacket when the protocol module loads (see checkFastEncoder).
 */
function fastPacket(type, event, data, ackId, prefix) {
  const json = data === undefined ? '' : JSON.stringify(data);
  const eventLen = Buffer.byteLength(event);
  const head = ackId === undefined ? 0 : 6;
  const total = prefix + 3 + eventLen + head + Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(total);
  if (prefix) out.writeUInt32BE(total, 0);
  out[prefix] = type;
  out.writeUInt16BE(eventLen, prefix + 1);
  let o = prefix + 3 + out.write(event, prefix + 3, 'utf8');
  if (head) {
    out.writeUInt32BE(ackId, o);
    out.writeUInt16BE(0, o + 4); // ack name = event name
    o += 6;
  }
  out.write(json, o, 'utf8');
  return out;
}

function checkFastEncoder(P) {
  const data = { text: 'check é', n: 42 };
  for (const prefix of [0, 4]) {
    const pairs = [
      [fastPacket(P.PacketType.JSON, 'ev', data, undefined, prefix), P.encodePacket({ type: P.PacketType.JSON, event: 'ev', data }, prefix)],
      [
        fastPacket(P.PacketType.ACK_REQUEST, 'echo', data, 7, prefix),
        P.encodePacket({ type: P.PacketType.ACK_REQUEST, event: 'echo', ackId: 7, data }, prefix),
      ],
    ];
    for (const [fast, ref] of pairs) {
      if (!fast.equals(Buffer.from(ref)))
        throw new Error(`bench fast encoder differs from encodePacket: ${fast.toString('hex')} vs ${Buffer.from(ref).toString('hex')}`);
    }
  }
}

/**
 * One session state machine shared by both stelar transports: `send(packet)` writes with
 * the transport's framing; `onPacket` handles what the server sends.
 */
function stelarSession(P, send, sendBytes, prefix) {
  const { PacketType } = P;
  let nextAckId = 1;
  let pendingAck = 0;
  let pendingReply = null;
  let joined = null;
  let connected = null;
  let failed = null;
  const client = {
    onBroadcast: noop,
    join(room, cb) {
      joined = cb;
      send({ type: PacketType.JOIN_ROOM, event: room });
    },
    request(data, cb) {
      pendingAck = nextAckId++;
      pendingReply = cb;
      sendBytes(fastPacket(PacketType.ACK_REQUEST, 'echo', data, pendingAck, prefix));
    },
    emit(data) {
      sendBytes(fastPacket(PacketType.JSON, 'ev', data, undefined, prefix));
    },
  };
  function onPacket(p) {
    switch (p.type) {
      case PacketType.JSON:
        if (p.event === 'b') client.onBroadcast(p.data);
        break;
      case PacketType.ACK_RESPONSE: {
        if (p.ackId !== pendingAck) throw new Error(`ACK response ${p.ackId} for request ${pendingAck}`);
        if (!p.ok) throw new Error(`ACK failed: ${JSON.stringify(p.data)}`);
        const cb = pendingReply;
        pendingReply = null;
        cb(p.data);
        break;
      }
      case PacketType.JOIN_ROOM: {
        const cb = joined;
        joined = null;
        cb?.();
        break;
      }
      case PacketType.CONNECT:
        connected?.(p.data);
        connected = null;
        break;
      case PacketType.PING:
        send({ type: PacketType.PONG, event: '', data: p.data });
        break;
      case PacketType.ERROR: {
        const err = new Error(`server error packet ${p.event}: ${JSON.stringify(p.data)}`);
        if (failed) failed(err);
        else console.error('[gen]', err.message);
        break;
      }
    }
  }
  function handshake() {
    return withTimeout('stelar Connect', (resolve, reject) => {
      connected = resolve;
      failed = reject;
      send({ type: PacketType.CONNECT, event: '', data: { v: P.PROTOCOL_VERSION } });
    }).finally(() => {
      failed = null;
    });
  }
  return { client, onPacket, handshake };
}

async function connectStelarWsFloor({ host, port }) {
  const P = await loadProtocol();
  const ws = new WebSocket(`ws://${host}:${port}/`, { perMessageDeflate: false });
  const sendBytes = (bytes) => ws.send(bytes, { binary: true });
  const { client, onPacket, handshake } = stelarSession(P, (packet) => sendBytes(P.encodePacket(packet)), sendBytes, 0);
  ws.on('message', (buf, isBinary) => {
    if (!isBinary) throw new Error('stelar server sent a text message');
    onPacket(P.decodePacket(buf));
  });
  await withTimeout('stelar ws open', (resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let closing = false;
  ws.on('error', (err) => console.error('[gen] stelar ws error:', err.message));
  ws.on('close', (code, reason) => {
    if (!closing) console.error(`[gen] stelar ws closed by server ${code} ${reason}`);
  });
  client.pressure = () => ws.bufferedAmount;
  client.onceDrain = (cb) => onceDrainOf(ws._socket, cb);
  client.cork = () => ws._socket.cork();
  client.uncork = () => ws._socket.uncork();
  client.close = () => {
    closing = true;
    ws.terminate();
  };
  await handshake();
  return client;
}

/** Splits a TCP byte stream into length-prefixed frames (u32be total length, prefix included). */
export function lengthPrefixReader(onFrame) {
  let pending = null; // unconsumed bytes from earlier chunks
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let o = 0;
    while (buf.length - o >= 4) {
      const len = buf.readUInt32BE(o);
      if (len < 7) throw new Error(`TCP frame length ${len} below the minimum`);
      if (buf.length - o < len) break;
      onFrame(buf.subarray(o + 4, o + len));
      o += len;
    }
    if (o < buf.length) pending = buf.subarray(o);
  };
}

async function connectStelarTcpFloor({ host, port }) {
  const P = await loadProtocol();
  const socket = net.connect({ host, port, noDelay: true });
  // While corked, frames are collected and written as one Buffer: one stream write per
  // burst instead of one per packet keeps the generator cheaper than the server.
  let burst = null;
  const sendBytes = (frame) => {
    if (burst) burst.push(frame);
    else socket.write(frame);
  };
  const { client, onPacket, handshake } = stelarSession(P, (packet) => sendBytes(P.encodePacket(packet, 4)), sendBytes, 4);
  socket.on(
    'data',
    lengthPrefixReader((frame) => onPacket(P.decodePacket(frame))),
  );
  await withTimeout('stelar tcp connect', (resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let closing = false;
  socket.on('error', (err) => console.error('[gen] stelar tcp error:', err.message));
  socket.on('close', () => {
    if (!closing) console.error('[gen] stelar tcp closed by server');
  });
  client.pressure = () => socket.writableLength;
  client.onceDrain = (cb) => onceDrainOf(socket, cb);
  client.cork = () => {
    burst ??= [];
  };
  client.uncork = () => {
    const frames = burst;
    burst = null;
    if (frames?.length) socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  };
  client.close = () => {
    closing = true;
    socket.destroy();
  };
  await handshake();
  return client;
}

// ---------------------------------------------------------------------------------------
// StelarClient (dist/client), as users run it: new StelarClient(address, { mode }), connect(),
// emit(), request(), joinRoom(). It batches its own writes (one per tick), so cork is a no-op.

/**
 * StelarClient has no backpressure API (emit() hands bytes to the connection; what the kernel
 * has not taken waits in the socket). The flood needs one, or 50 clients would queue every
 * event in memory at once: the socket the client opens is caught through Node's public
 * 'net.client.socket' diagnostics channel, published synchronously inside connect(), and its
 * writableLength serves as the pressure signal, as bufferedAmount does for the ws client.
 * Observing the socket changes nothing in the client's send path.
 */
let captured = null;
let channelSubscribed = false;
function catchSocketOf(start) {
  if (!channelSubscribed) {
    diagnosticsChannel.subscribe('net.client.socket', ({ socket }) => captured?.push(socket));
    channelSubscribed = true;
  }
  captured = [];
  try {
    start();
    return captured.length === 1 ? captured[0] : null;
  } finally {
    captured = null;
  }
}

let stelarClientClass = null;
let warnedNoSocket = false;

function stelarClientKind(mode) {
  return async ({ host, port }) => {
    stelarClientClass ??= (await import(pathToFileURL(join(stelarDist(), 'client', 'index.js')).href)).StelarClient;
    const sc = new stelarClientClass(`${host}:${port}`, { mode, reconnection: false, logger: false });
    let joined = null;
    let socket = null;
    let closing = false;
    const client = {
      onBroadcast: noop,
      join(room, cb) {
        joined = cb;
        sc.joinRoom(room);
      },
      request(data, cb) {
        sc.request('echo', data, 'echo').then(cb, (err) => {
          throw err;
        });
      },
      emit(data) {
        sc.emit('ev', data);
      },
      pressure: () => socket?.writableLength ?? 0,
      onceDrain: (cb) => onceDrainOf(socket, cb),
      cork: noop,
      uncork: noop,
      close: () => {
        closing = true;
        sc.disconnect();
      },
    };
    sc.on('b', (data) => client.onBroadcast(data));
    sc.on('room_joined', () => {
      const cb = joined;
      joined = null;
      cb?.();
    });
    let opening = true;
    sc.on('error', (err) => {
      if (!opening) console.error(`[gen] StelarClient(${mode}) error:`, err.message);
    });
    sc.on('disconnect', (info) => {
      if (!opening && !closing) console.error(`[gen] StelarClient(${mode}) disconnected by the server: ${JSON.stringify(info)}`);
    });
    await withTimeout(`StelarClient(${mode}) connect`, (resolve, reject) => {
      sc.once('error', reject);
      sc.once('disconnect', (info) => reject(new Error(`StelarClient disconnected: ${JSON.stringify(info)}`)));
      socket = catchSocketOf(() => sc.connect(resolve));
    });
    opening = false;
    if (!socket && !warnedNoSocket) {
      warnedNoSocket = true;
      console.error('[gen] no socket seen on net.client.socket during StelarClient.connect(): the flood runs without backpressure');
    }
    return client;
  };
}

const KINDS = {
  'stelar-ws': stelarClientKind('ws'),
  'stelar-tcp': stelarClientKind('tcp'),
  'stelar-ws-floor': connectStelarWsFloor,
  'stelar-tcp-floor': connectStelarTcpFloor,
  ws: connectJsonWs,
  socketio: connectSocketIo,
};

export function connect(kind, address) {
  const fn = KINDS[kind];
  if (!fn) throw new Error(`unknown client kind ${kind}`);
  return fn(address);
}
