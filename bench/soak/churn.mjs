// A load generator for the soak: `clients` StelarClient objects, each looping
//   connect -> join a room -> emit 3 messages over ~holdMs -> one request -> leave ->
//   disconnect -> pause ~pauseMs
// until told to stop. Half speak WebSocket, half TCP. Counters go to the orchestrator on
// request; on { q: 'stop' } every client finishes its current cycle, disconnects, and the
// process reports its totals and exits.
import { StelarClient } from '../../dist/client/index.js';

const { port, tcpPort, clients, rooms, pauseMs, holdMs, rampMs, index } = JSON.parse(process.argv[2]);
const HOST = '127.0.0.1';
const counters = { cycles: 0, connects: 0, emits: 0, requests: 0, received: 0, errors: 0, timeouts: 0, connectTimeouts: 0, joinTimeouts: 0 };
/** Client 'error' events by code, to tell overload (timeouts, refusals) from bugs. */
const errorCodes = {};
let stopping = false;

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true when `start(done)` calls done within `ms`, else false. */
function within(ms, start) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    start(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function slot(n) {
  const tcp = n % 2 === 1;
  const client = new StelarClient(tcp ? `${HOST}:${tcpPort}` : `ws://${HOST}:${port}`, {
    mode: tcp ? 'tcp' : 'ws',
    reconnection: false,
    logger: false,
    ackTimeout: 15_000,
    connectTimeout: 15_000,
  });
  client.on('error', (err) => {
    counters.errors++;
    const code = err?.code ?? 'unknown';
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
  });
  client.on('said', () => counters.received++);
  // Spread the first connections over the ramp.
  await wait(Math.random() * rampMs);
  while (!stopping) {
    if (!(await within(15_000, (done) => client.connect(done)))) {
      counters.timeouts++;
      counters.connectTimeouts++;
      client.disconnect();
      await wait(pauseMs);
      continue;
    }
    counters.connects++;
    const room = `room-${Math.floor(Math.random() * rooms)}`;
    const joined = within(15_000, (done) => {
      const on = (r) => {
        if (r !== room) return;
        client.off('room_joined', on);
        done();
      };
      client.on('room_joined', on);
    });
    client.joinRoom(room);
    if (!(await joined)) {
      counters.timeouts++;
      counters.joinTimeouts++;
    }
    for (let i = 0; i < 3; i++) {
      client.emit('say', { room, text: `hello from ${index}/${n} #${i}` });
      counters.emits++;
      await wait(holdMs / 3);
    }
    try {
      await client.request('echo', { n, at: Date.now() });
      counters.requests++;
    } catch {
      counters.errors++;
    }
    client.leaveRoom(room);
    client.disconnect();
    counters.cycles++;
    await wait(pauseMs / 2 + Math.random() * pauseMs);
  }
  client.disconnect();
}

const running = Array.from({ length: clients }, (_, i) => slot(i));

process.on('message', async (msg) => {
  if (msg.q === 'counters') process.send({ id: msg.id, result: { ...counters } });
  else if (msg.q === 'errors') process.send({ id: msg.id, result: { ...errorCodes } });
  else if (msg.q === 'stop') {
    stopping = true;
    await Promise.all(running);
    process.send({ id: msg.id, result: { ...counters } });
    process.disconnect();
  }
});
process.send({ ready: true });
