// Real StelarServer instances for the client's integration tests (127.0.0.1, ephemeral ports).
import { StelarServer, StelarClient } from '../../../dist/index.js';
import { nextEvent, waitUntil } from '../../support/waits.mjs';

export { StelarServer, StelarClient };

export async function startServer(options = {}) {
  const server = new StelarServer({ port: 0, host: '127.0.0.1', tcpPort: 0, logger: 'silent', gracefulShutdown: false, ...options });
  const port = await server.start();
  return { server, port, tcpPort: server.getTcpPort() };
}

/** The address a client in `mode` uses for `srv`. */
export function addressOf(srv, mode) {
  return `127.0.0.1:${mode === 'tcp' ? srv.tcpPort : srv.port}`;
}

export { selfSignedCert } from '../../support/tls.mjs';

/** Resolves with the arguments of the next `event` (rejects after `ms`: a failure guard only). */
export const next = (emitter, event, ms = 8000) => nextEvent(emitter, event, ms);

export const until = (predicate, what = 'condition', ms = 8000) => waitUntil(predicate, what, ms, 10);

/** A connected client (resolves on 'connect'). */
export async function connectClient(url, options = {}) {
  const client = new StelarClient(url, { logger: 'silent', ...options });
  const connected = next(client, 'connect');
  client.connect();
  await connected;
  return client;
}
