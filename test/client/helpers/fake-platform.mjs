// An in-memory ClientPlatform for the client core: each transport is a scripted fake server,
// so session rules (handshake, acks, rooms, queue, reconnection) are tested without sockets.
import { decodePacket, encodePacket, PacketType } from '../../../dist/protocol/index.js';
import assert from 'node:assert/strict';
import { nextEvent, waitUntil } from '../../support/waits.mjs';

export class FakeTransport {
  /** How the core lays out what it hands over (`encodePacket(p, prefix, room)`): the platform's layout for the mode. */
  layout = { prefix: 0, room: 0 };
  /** Every byte array handed over, as given. */
  raw = [];
  sent = [];
  closedWith = null;
  #handlers;
  #server;
  constructor(options, handlers, server) {
    this.options = options;
    this.#handlers = handlers;
    this.#server = server;
  }
  open() {
    this.#handlers.onOpen();
  }
  fail(message = 'connect ECONNREFUSED') {
    this.#handlers.onError(new Error(message));
    this.#handlers.onClose(1006, '');
  }
  sendPacketBytes(bytes) {
    this.raw.push(bytes);
    const { prefix, room } = this.layout;
    if (prefix) assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(room), bytes.length - room, 'TCP prefix');
    const packet = decodePacket(bytes.subarray(prefix + room));
    this.sent.push(packet);
    this.#server?.(packet, this);
    return true;
  }
  deliver(packet) {
    this.#handlers.onData(encodePacket(packet));
  }
  deliverBytes(bytes) {
    this.#handlers.onData(bytes);
  }
  drop(code = 1006, reason = '') {
    this.#handlers.onClose(code, reason);
  }
  close(code = 1000, reason = '') {
    this.closedWith = { code, reason };
    queueMicrotask(() => this.#handlers.onClose(code, reason));
  }
  terminate() {
    this.closedWith = { code: 1006, reason: 'terminated' };
    queueMicrotask(() => this.#handlers.onClose(1006, ''));
  }
  events() {
    return this.sent.filter((p) => p.type === PacketType.JSON || p.type === PacketType.BINARY || p.type === PacketType.ACK_REQUEST).map((p) => p.event);
  }
}

/**
 * A scripted server: answers Connect with a session, echoes joins/leaves, pongs pings, and
 * answers ACK requests from `acks[name](data)` (a throw becomes ok:false).
 * `autoOpen` opens each new transport on the next microtask.
 */
export function fakePlatform({
  autoOpen = true,
  server = {},
  name = 'node',
  modes = ['ws', 'tcp'],
  layouts = { ws: { prefix: 0, room: 0 }, tcp: { prefix: 4, room: 0 } },
} = {}) {
  const transports = [];
  let sessions = 0;
  const script = (packet, t) => {
    if (server.onPacket?.(packet, t) === false) return;
    switch (packet.type) {
      case PacketType.CONNECT:
        if (server.silent) return;
        sessions++;
        t.deliver({
          type: PacketType.CONNECT,
          event: '',
          data: {
            v: 1,
            id: `client-${sessions}`,
            heartbeatInterval: server.heartbeatInterval ?? 30000,
            heartbeatTimeout: 60000,
            maxPayloadSize: server.maxPayloadSize ?? 1024 * 1024,
          },
        });
        return;
      case PacketType.JOIN_ROOM:
      case PacketType.LEAVE_ROOM:
        if (server.noEcho) return;
        if (server.refuseRooms?.includes(packet.event)) {
          t.deliver({ type: PacketType.ERROR, event: 'STELAR_ERR_ROOM_REJECTED', data: { message: `join ${packet.event} refused`, room: packet.event } });
          return;
        }
        t.deliver({ type: packet.type, event: packet.event });
        return;
      case PacketType.PING:
        if (!server.noPong) t.deliver({ type: PacketType.PONG, event: '', data: packet.data });
        return;
      case PacketType.ACK_REQUEST: {
        const handler = server.acks?.[packet.ackName];
        if (!handler) return; // no answer: the client's timeout decides
        let reply;
        try {
          reply = { ok: true, data: handler(packet.data) };
        } catch (err) {
          reply = { ok: false, data: { message: err.message, code: err.code ?? 'STELAR_ERR_ACK_FAILED' } };
        }
        t.deliver({ type: PacketType.ACK_RESPONSE, event: packet.ackName, ackId: packet.ackId, ...reply });
        return;
      }
    }
  };
  const platform = {
    name,
    modes,
    transports,
    get last() {
      return transports.at(-1);
    },
    createTransport(options, handlers) {
      const t = new FakeTransport(options, handlers, script);
      t.layout = layouts[options.target.mode];
      transports.push(t);
      if (autoOpen) queueMicrotask(() => t.open());
      platform.onTransport?.(t);
      return t;
    },
    layout: (mode) => layouts[mode],
    readFile: async (file) => {
      if (typeof file === 'string') return new TextEncoder().encode(`contents of ${file}`);
      throw new TypeError('unsupported');
    },
    binary: (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength),
  };
  return platform;
}

/** Resolves with the arguments of the next `event` (rejects after `ms`: a failure guard only). */
export const next = (emitter, event, ms = 5000) => nextEvent(emitter, event, ms);

export const tick = () => new Promise((r) => setImmediate(r));

export const until = (predicate, what = 'condition', ms = 5000) => waitUntil(predicate, what, ms, 5);
