// Nodes and clients for the adapter contract: a StelarServer (WebSocket and TCP on ephemeral
// ports) on an engine's adapter, in this process or as a child process that a test may kill.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { StelarClient, StelarServer } from '../../dist/index.js';
import { nextEvent, waitUntil } from '../support/waits.mjs';
import { ENGINES } from './engines.mjs';

export { StelarClient, StelarServer };

const FIXTURE = fileURLToPath(new URL('./fixtures/node.mjs', import.meta.url));

/** A prefix (letters and digits: a valid Redis key part and NATS subject token) no other run uses. */
export function uniquePrefix(tag = 't') {
  return `st${process.pid}x${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}${tag}`;
}

export const until = (predicate, what = 'condition', ms = 8000) => waitUntil(predicate, what, ms, 15);
export const next = (emitter, event, ms = 8000) => nextEvent(emitter, event, ms);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps its lines, for tests that count them. */
export function captureLogger() {
  const lines = { warn: [], info: [], error: [] };
  return {
    lines,
    debug() {},
    info: (...a) => lines.info.push(a.join(' ')),
    warn: (...a) => lines.warn.push(a.join(' ')),
    error: (...a) => lines.error.push(a.join(' ')),
  };
}

/** One node of `engineName` in this process; `brokerPort` is the engine's broker (cluster engines). */
export async function startNode(engineName, { brokerPort, prefix, nodeId, server: serverOptions = {} } = {}) {
  const engine = ENGINES[engineName];
  const conn = await engine.connect(brokerPort);
  const adapter = engine.adapter(conn, { prefix, nodeId });
  const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: 'silent', gracefulShutdown: false, adapter, ...serverOptions });
  const port = await server.start();
  const sockets = new Map();
  server.onConnection((ctx) => sockets.set(ctx.id, ctx.socket));
  return {
    engine,
    conn,
    server,
    adapter,
    port,
    tcpPort: server.getTcpPort(),
    nodeId: adapter.nodeId ?? 'local',
    /** Drops a client's connection from the server side (no close frame: the client sees 1006). */
    cut(id) {
      sockets.get(id)?.destroy();
    },
    async stop() {
      await server.stop();
      await engine.close(conn);
    },
  };
}

/**
 * One node in a child process (for a test that kills it). Resolves with { child, port,
 * tcpPort, nodeId, send(op) } once it serves; `send({ op: 'to', room, event, data })` makes it
 * send to a room.
 */
export function spawnNode(engineName, { brokerPort, prefix }) {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify({ engine: engineName, brokerPort, prefix })], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (!buf.includes('\n')) return;
      resolve({
        child,
        ...JSON.parse(buf.split('\n')[0]),
        send: (op) => child.send(op),
        async kill() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGKILL');
          await once(child, 'exit');
        },
      });
    });
    child.once('exit', (code) => reject(new Error(`node process exited early (${code})`)));
  });
}

export function addressOf(node, mode) {
  return `127.0.0.1:${mode === 'tcp' ? node.tcpPort : node.port}`;
}

/** A connected StelarClient; `got` collects [event, data] of every server event (binary as 'bin:<hex>'). */
export async function connectClient(node, mode, options = {}) {
  const client = new StelarClient(addressOf(node, mode), { mode, logger: 'silent', reconnection: false, ...options });
  const got = [];
  client.onAll((event, data) => got.push([event, Buffer.isBuffer(data) || data instanceof Uint8Array ? `bin:${Buffer.from(data).toString('hex')}` : data]));
  const connected = next(client, 'connect');
  client.connect();
  await connected;
  return { client, got, id: client.getId(), node, of: (event) => got.filter(([e]) => e === event).map(([, d]) => d) };
}

function roomReply(client, event, room) {
  return new Promise((resolve) => {
    const on = (r) => {
      if (r !== room) return;
      client.off(event, on);
      resolve();
    };
    client.on(event, on);
  });
}

export async function joinRoom(client, room) {
  const joined = roomReply(client, 'room_joined', room);
  client.joinRoom(room);
  await joined;
}

export async function leaveRoom(client, room) {
  const left = roomReply(client, 'room_left', room);
  client.leaveRoom(room);
  await left;
}
