// Issue 13 (spec compatibility), the client's side against a real server on 127.0.0.1:
// a refused Origin is reported as STELAR_ERR_ORIGIN_NOT_ALLOWED (and not retried), a leave the
// server vetoes keeps the room in getRooms(), getOptions() shows the heartbeat in effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StelarServer, StelarClient, ErrorCode } from '../../dist/index.js';
import { waitUntil } from '../support/waits.mjs';

const HOST = '127.0.0.1';
const until = (fn, what) => waitUntil(fn, what, 5000);

async function serve(options = {}) {
  const server = new StelarServer({ port: 0, host: HOST, tcpPort: false, logger: false, gracefulShutdown: false, ...options });
  const port = await server.start();
  return { server, port };
}

function connected(client) {
  return new Promise((resolve) => client.connect(resolve));
}

test('an Origin the server refuses is reported as STELAR_ERR_ORIGIN_NOT_ALLOWED, and the client does not retry', async () => {
  const { server, port } = await serve({ allowedOrigins: ['https://app.example'] });
  const client = new StelarClient(`ws://${HOST}:${port}`, { logger: false, headers: { Origin: 'https://evil.example' }, reconnectionDelay: 10 });
  const errors = [];
  const states = [];
  client.on('error', (err) => errors.push(err));
  client.updateOptions({ hooks: { onStateChange: ({ to }) => states.push(to) } });
  try {
    client.connect();
    await until(() => errors.length > 0, 'the error event');
    assert.equal(errors[0].code, ErrorCode.ORIGIN_NOT_ALLOWED);
    await until(() => client.getState() === 'disconnected', 'disconnected');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(errors.length, 1, 'the refused Origin was retried');
    assert.ok(!states.includes('reconnecting'), `states: ${states.join(', ')}`);
  } finally {
    client.disconnect();
    await server.stop();
  }
});

test('a leave the server vetoes keeps the room in getRooms(); a confirmed leave drops it', async () => {
  const { server, port } = await serve({ hooks: { onClientLeaveRoom: ({ room }) => room !== 'locked' } });
  const client = new StelarClient(`ws://${HOST}:${port}`, { logger: false });
  const errors = [];
  client.on('error', (err) => errors.push(err));
  try {
    await connected(client);
    const joined = new Set();
    client.on('room_joined', (room) => joined.add(room));
    client.joinRoom('locked').joinRoom('open');
    await until(() => joined.size === 2, 'both joins');

    client.leaveRoom('locked');
    assert.deepEqual(client.getRooms().sort(), ['locked', 'open'], 'dropped before the server answered');
    await until(() => errors.length > 0, 'the refusal');
    assert.equal(errors[0].code, ErrorCode.ROOM_REJECTED);
    assert.deepEqual(client.getRooms().sort(), ['locked', 'open']);
    assert.deepEqual(server.getRooms().sort(), ['locked', 'open']);

    const left = new Promise((resolve) => client.once('room_left', resolve));
    client.leaveRoom('open');
    assert.equal(await left, 'open');
    assert.deepEqual(client.getRooms(), ['locked']);

    // Leave, then join again before the answer: still in the room once both are answered.
    client.leaveRoom('locked');
    client.joinRoom('locked');
    await until(() => errors.length > 1, 'the second refusal');
    const echo = new Promise((resolve) => client.once('room_joined', resolve));
    client.joinRoom('again');
    await echo;
    assert.deepEqual(client.getRooms().sort(), ['again', 'locked']);
  } finally {
    client.disconnect();
    await server.stop();
  }
});

test("getOptions().heartbeatInterval is the server's announced interval while it is in use, the user's once set", async () => {
  const { server, port } = await serve({ heartbeatInterval: 1234 });
  const client = new StelarClient(`ws://${HOST}:${port}`, { logger: false });
  try {
    await connected(client);
    assert.equal(client.getOptions().heartbeatInterval, 1234);
    client.updateOptions({ heartbeatInterval: 5000 });
    assert.equal(client.getOptions().heartbeatInterval, 5000);
  } finally {
    client.disconnect();
    await server.stop();
  }
  const own = new StelarClient(1, { logger: false, heartbeatInterval: 777 });
  assert.equal(own.getOptions().heartbeatInterval, 777);
});
