/**
 * The `uws-app` target: an app on uWebSockets.js (loaded from its native binary, see
 * bench/lib/targets.mjs). Every message is decoded, parsed (`JSON.parse`) and dispatched by
 * its event name `t` through a handler map, with the same envelope as ws-app; rooms are
 * uWS topics and broadcast is app.publish, uWS's own fan-out path (one shared message
 * drained once per loop turn). The transport-only counterpart is uws-bare.mjs.
 */
import { loadUws } from '../lib/targets.mjs';

/** uWS options shared by both uWS targets. */
export function uwsBehavior(uws) {
  return {
    compression: uws.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    // The fan-out scenario queues up to ~50 KB per client; never drop a publish for the bench.
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
  };
}

/** Listens on 127.0.0.1 and returns what host.mjs needs, given the app and a connection counter. */
export async function listenUws(uws, app, connections) {
  const listenSocket = await new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (token) => (token ? resolve(token) : reject(new Error('uWS listen failed'))));
  });
  return {
    ports: { ws: uws.us_socket_local_port(listenSocket) },
    connections,
    async close() {
      uws.us_listen_socket_close(listenSocket);
      app.close?.();
    },
  };
}

export async function start({ count }) {
  const uws = loadUws();
  let connections = 0;
  const decoder = new TextDecoder();
  const handlers = new Map([
    ['ev', () => count()],
    ['echo', (ws, msg) => ws.send(JSON.stringify({ t: 'echo', id: msg.id, d: msg.d }), false)],
    [
      'join',
      (ws, msg) => {
        ws.subscribe(msg.room);
        ws.send('{"t":"joined"}', false);
      },
    ],
  ]);
  const app = uws.App();
  app.ws('/*', {
    ...uwsBehavior(uws),
    open() {
      connections++;
    },
    close() {
      connections--;
    },
    message(ws, message) {
      const msg = JSON.parse(decoder.decode(message));
      handlers.get(msg.t)?.(ws, msg);
    },
  });
  return {
    ...(await listenUws(uws, app, () => connections)),
    roomSize: (name) => app.numSubscribers(name),
    broadcast(name, data) {
      app.publish(name, JSON.stringify({ t: 'b', d: data }), false);
    },
  };
}
