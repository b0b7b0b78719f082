/**
 * The uWebSockets.js target, loaded from its native binary (see bench/lib/targets.mjs).
 * Same JSON envelope as the ws target; rooms are uWS topics and broadcast is app.publish,
 * uWS's own fan-out path (one shared message drained once per loop turn).
 */
import { loadUws } from '../lib/targets.mjs';

export async function start({ count }) {
  const uws = loadUws();

  let connections = 0;
  const decoder = new TextDecoder();
  const app = uws.App();
  app.ws('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    // The fan-out scenario queues up to ~50 KB per client; never drop a publish for the bench.
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    open() {
      connections++;
    },
    close() {
      connections--;
    },
    message(ws, message) {
      const msg = JSON.parse(decoder.decode(message));
      switch (msg.t) {
        case 'ev':
          count();
          break;
        case 'echo':
          ws.send(JSON.stringify({ t: 'echo', id: msg.id, d: msg.d }), false);
          break;
        case 'join':
          ws.subscribe(msg.room);
          ws.send('{"t":"joined"}', false);
          break;
      }
    },
  });
  const listenSocket = await new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (token) => (token ? resolve(token) : reject(new Error('uWS listen failed'))));
  });
  return {
    ports: { ws: uws.us_socket_local_port(listenSocket) },
    connections: () => connections,
    roomSize: (name) => app.numSubscribers(name),
    broadcast(name, data) {
      app.publish(name, JSON.stringify({ t: 'b', d: data }), false);
    },
    async close() {
      uws.us_listen_socket_close(listenSocket);
      app.close?.();
    },
  };
}
