/**
 * The hostile scenario's generator side (bench/scenarios/hostile.mjs), loaded by gen.mjs:
 *
 *   healthyStart / healthyMark / healthyStop — one well-behaved StelarClient (dist/client,
 *     as users run it) doing paced, sequential ACK round trips; latencies in µs.
 *   attack({ kind, durationMs, ports }) — one attack, raw sockets, bounded in time: it
 *     stops by itself after durationMs, destroys every socket it opened and reports counts.
 *
 * Raw frames are built here by hand: a TCP frame is a 4-byte big-endian length (itself
 * included) + the packet; a WebSocket frame from a client is masked (with the all-zero key,
 * which is valid and leaves the payload as is). Packets: type (1) + event length (2) +
 * event + [ack id (4) + ack name length (2)] + JSON.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nowMs } from '../lib/proc.mjs';
import { ROOT } from '../lib/targets.mjs';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const T = { JSON: 0, PING: 2, ACK_REQUEST: 4, CONNECT: 6 };

// ---------------------------------------------------------------------------------------
// The healthy client

let healthy = null;

/**
 * Connects one StelarClient and starts sequential ACK round trips, one every `intervalMs`
 * at most (paced: the server's default rate limit of 100 messages/s per client applies to
 * this client too). A request still waiting when a mark is taken counts with the time it
 * has waited so far (a lower bound), so a stalled server shows in p99 and max.
 */
export async function healthyStart({ mode, port, intervalMs = 20, timeoutMs = 5_000 }) {
  if (healthy) throw new Error('healthy client already running');
  const { StelarClient } = await import(pathToFileURL(join(ROOT, 'dist', 'client', 'index.js')).href);
  const sc = new StelarClient(`${HOST}:${port}`, { mode, reconnection: false, logger: false });
  const h = { sc, running: true, samples: [], failures: 0, inflightAt: 0, disconnect: null, n: 0, timer: null };
  healthy = h;
  sc.on('disconnect', (info) => {
    h.disconnect ??= { ...info, at: nowMs() };
  });
  sc.on('error', () => {});
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('healthy StelarClient: no connect within 10 s')), 10_000);
    sc.connect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  const loop = () => {
    if (!h.running) return;
    const sentAt = performance.now();
    h.inflightAt = sentAt;
    const data = { text: 'healthy', n: h.n++ };
    const next = () => {
      h.inflightAt = 0;
      const wait = intervalMs - (performance.now() - sentAt);
      h.timer = setTimeout(loop, Math.max(0, wait));
    };
    sc.request('echo', data, 'echo', { timeout: timeoutMs }).then(
      (reply) => {
        if (reply?.n !== data.n) h.failures++;
        h.samples.push((performance.now() - sentAt) * 1000);
        next();
      },
      () => {
        h.failures++;
        h.samples.push((performance.now() - sentAt) * 1000);
        if (h.disconnect) h.inflightAt = 0;
        else next();
      },
    );
  };
  loop();
  return { connected: true };
}

/** Returns the samples since the last mark (and clears them). */
export function healthyMark() {
  const h = healthy;
  if (!h) throw new Error('healthyMark before healthyStart');
  const samples = h.samples;
  if (h.inflightAt) samples.push((performance.now() - h.inflightAt) * 1000);
  h.samples = [];
  const failures = h.failures;
  h.failures = 0;
  return { samples: Float64Array.from(samples), failures, connected: h.disconnect === null, disconnect: h.disconnect };
}

export function healthyStop() {
  const h = healthy;
  if (!h) return { stopped: false };
  h.running = false;
  clearTimeout(h.timer);
  healthy = null;
  const state = { connected: h.disconnect === null, disconnect: h.disconnect };
  h.sc.disconnect();
  return state;
}

// ---------------------------------------------------------------------------------------
// Raw framing

function packet(type, event, json, ackId) {
  const ev = Buffer.from(event);
  const body = typeof json === 'string' ? Buffer.from(json) : json;
  const head = ackId === undefined ? 0 : 6;
  const out = Buffer.allocUnsafe(3 + ev.length + head + body.length);
  out[0] = type;
  out.writeUInt16BE(ev.length, 1);
  ev.copy(out, 3);
  let o = 3 + ev.length;
  if (head) {
    out.writeUInt32BE(ackId, o);
    out.writeUInt16BE(0, o + 4);
    o += 6;
  }
  body.copy(out, o);
  return out;
}

function tcpFrame(p) {
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(p.length + 4, 0);
  return Buffer.concat([prefix, p]);
}

/** The header of a masked client frame (zero mask key) that declares `length` payload bytes. */
function wsHeader(opcode, length) {
  let h;
  if (length < 126) {
    h = Buffer.alloc(2 + 4);
    h[1] = 0x80 | length;
  } else if (length < 65536) {
    h = Buffer.alloc(4 + 4);
    h[1] = 0x80 | 126;
    h.writeUInt16BE(length, 2);
  } else {
    h = Buffer.alloc(10 + 4);
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(length), 2);
  }
  h[0] = 0x80 | opcode;
  return h;
}

/** The attacker closes a socket itself (not counted as closed by the server). */
function hangUp(s) {
  s.hungUp = true;
  s.destroy();
}

const wsFrame = (opcode, payload) => Buffer.concat([wsHeader(opcode, payload.length), payload]);
const CONNECT = packet(T.CONNECT, '', JSON.stringify({ v: 1 }));

/**
 * Resolves with a connected socket, or null when the server refused or reset it. Reads
 * (and drops) what the server sends unless paused, so its close is seen; a close the
 * attacker did not ask for (see `hangUp`) counts in state.closedByServer.
 */
function dial(port, sockets, state) {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', () => {});
    s.on('close', () => {
      sockets.delete(s);
      if (!s.hungUp && state.running) state.closedByServer++;
      resolve(null);
    });
    s.once('connect', () => resolve(s));
  });
}

/** A raw WebSocket: HTTP upgrade, then resolves once the 101 head arrived (null otherwise). */
async function dialWs(port, sockets, state) {
  const s = await dial(port, sockets, state);
  if (!s) return null;
  s.write(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  return new Promise((resolve) => {
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      resolve(head.startsWith('HTTP/1.1 101') ? s : null);
    };
    s.on('data', onData);
    s.once('close', () => resolve(null));
  });
}

/** Writes until the socket needs a drain; resolves on drain, close or stop. */
function drained(s, state) {
  return new Promise((resolve) => {
    if (!s.writableNeedDrain || s.destroyed) return resolve();
    const done = () => {
      clearInterval(poll);
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    // Polls so a stop is honoured while the server does not read.
    const poll = setInterval(() => !state.running && done(), 50);
    s.on('drain', done);
    s.on('close', done);
  });
}

// ---------------------------------------------------------------------------------------
// The attacks. Each runs while state.running, counts what it did, and leaves cleanup to
// attack(): every socket is in `sockets` and is destroyed at the end.

/**
 * One client (TCP, after Connect) writing `chunk` (which carries `packets` packets) as fast as
 * the socket takes it, yielding to the event loop between writes when asked; reconnects when
 * the server closes it, until the attack ends.
 */
async function tcpFlood(state, sockets, port, chunk, packets, yieldEach = false) {
  while (state.running) {
    const s = await dial(port, sockets, state);
    if (!s) {
      state.refused++;
      continue;
    }
    state.connections++;
    s.write(tcpFrame(CONNECT));
    while (state.running && !s.destroyed) {
      s.write(chunk);
      state.bytes += chunk.length;
      state.packets += packets;
      await drained(s, state);
      if (yieldEach) await new Promise((r) => setImmediate(r));
    }
    hangUp(s);
  }
}

const ATTACKS = {
  /** (1) Unauthenticated Connect packets of 3 MiB, `[[[…]]]` nested 1.5 Mi deep; a new TCP connection each time. */
  async 'nested-connect'(state, sockets, { ports }) {
    const depth = 1.5 * MiB;
    const json = Buffer.alloc(depth * 2, 0x5b); // '['
    json.fill(0x5d, depth); // ']'
    const frame = tcpFrame(packet(T.CONNECT, '', json));
    const worker = async () => {
      while (state.running) {
        const s = await dial(ports.tcp, sockets, state);
        if (!s) {
          state.refused++;
          continue;
        }
        state.connections++;
        const closed = new Promise((resolve) => s.once('close', resolve));
        s.write(frame);
        state.bytes += frame.length;
        state.packets++;
        // Wait for the server's answer (close), at most 2 s, then move on.
        await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]);
        hangUp(s);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  },

  /** (2) One client (TCP, after Connect) sending valid 4 MiB JSON events as fast as the socket takes them; reconnects when closed. */
  async 'big-events'(state, sockets, { ports }) {
    const frame = tcpFrame(packet(T.JSON, 'ev', JSON.stringify({ blob: 'x'.repeat(4 * MiB - 20) })));
    await tcpFlood(state, sockets, ports.tcp, frame, 1);
  },

  /** (3) One client (TCP, after Connect) flooding 8-byte packets with an empty event name; reconnects when closed. */
  async invalid(state, sockets, { ports }) {
    const one = tcpFrame(packet(T.JSON, '', '"abc"')); // 3 + 5 = 8 bytes of packet
    const burst = Buffer.concat(Array.from({ length: 512 }, () => one));
    await tcpFlood(state, sockets, ports.tcp, burst, 512, true);
  },

  /** (4) One WebSocket client (after Connect) flooding ping frames and ACK requests and never reading. */
  async 'ping-flood'(state, sockets, { ports }) {
    const ping = wsFrame(0x9, Buffer.from('p'.repeat(16)));
    let ackId = 1;
    while (state.running) {
      const s = await dialWs(ports.ws, sockets, state);
      if (!s) {
        state.refused++;
        continue;
      }
      state.connections++;
      s.pause(); // never reads again: the server's answers pile up on its side
      s.write(wsFrame(0x2, CONNECT));
      while (state.running && !s.destroyed) {
        const parts = [];
        for (let i = 0; i < 64; i++) {
          parts.push(ping, wsFrame(0x2, packet(T.ACK_REQUEST, 'echo', '{"text":"flood"}', ackId++)));
          if (ackId > 0xfffffff0) ackId = 1;
        }
        const chunk = Buffer.concat(parts);
        s.write(chunk);
        state.bytes += chunk.length;
        state.packets += 128;
        await drained(s, state);
        await new Promise((r) => setImmediate(r));
      }
      hangUp(s);
    }
  },

  /** (5) 200 connections (half TCP, half WebSocket), each declaring a 1 MiB frame, sending half of it, then nothing. */
  async 'slow-frames'(state, sockets, { ports, count = 200 }) {
    const half = Buffer.alloc(MiB / 2, 0x61);
    const tcpHead = Buffer.allocUnsafe(4);
    tcpHead.writeUInt32BE(MiB, 0);
    const wsHead = wsHeader(0x2, MiB);
    const open = async (i) => {
      const ws = i % 2 === 1;
      const s = ws ? await dialWs(ports.ws, sockets, state) : await dial(ports.tcp, sockets, state);
      if (!s) {
        state.refused++;
        return;
      }
      state.connections++;
      s.write(ws ? wsHead : tcpHead);
      s.write(half);
      state.bytes += half.length + 4;
      state.packets++;
    };
    let next = 0;
    const worker = async () => {
      while (state.running && next < count) await open(next++);
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    // Parked: hold them until the end of the case.
    while (state.running) await new Promise((r) => setTimeout(r, 50));
  },

  /** The control case: no attack. */
  async none(state) {
    while (state.running) await new Promise((r) => setTimeout(r, 50));
  },
};

/** Runs one attack for `durationMs`, then destroys every socket it opened. */
export async function attack({ kind, durationMs, ports, ...rest }) {
  const fn = ATTACKS[kind];
  if (!fn) throw new Error(`unknown attack ${kind} (known: ${Object.keys(ATTACKS).join(', ')})`);
  const sockets = new Set();
  const state = { running: true, connections: 0, refused: 0, closedByServer: 0, bytes: 0, packets: 0 };
  const startAt = nowMs();
  const timer = setTimeout(() => {
    state.running = false;
  }, durationMs);
  const openAtEnd = { n: 0 };
  const stopped = new Promise((resolve) => setTimeout(resolve, durationMs + 50));
  // The attack's own loop may be parked on a socket the server never answers: stop on time anyway.
  await Promise.race([fn(state, sockets, { ports, ...rest }).catch((err) => (state.error = String(err?.message ?? err))), stopped]);
  state.running = false;
  clearTimeout(timer);
  openAtEnd.n = [...sockets].filter((s) => !s.destroyed).length;
  for (const s of sockets) hangUp(s);
  return {
    kind,
    ms: nowMs() - startAt,
    connections: state.connections,
    refused: state.refused,
    closedByServer: state.closedByServer,
    openAtEnd: openAtEnd.n,
    mbSent: state.bytes / MiB,
    packets: state.packets,
    error: state.error ?? null,
  };
}
