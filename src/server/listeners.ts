/**
 * The listening sockets StelarServer creates: an HTTP(S) server for WebSocket upgrades and
 * the health routes, and a TCP (or TLS) server for the binary transport. Both are bounded:
 * a request head and a TLS handshake get `connectTimeout` to arrive.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsOptions } from 'node:tls';
import type { LoggerLike } from '../logger.js';
import { boundedHttpOptions } from '../net/http-limits.js';

/** Largest request head (an upgrade's headers included) the created HTTP server reads. */
const MAX_HEADER_SIZE = 16 * 1024;

export interface ListenerOptions {
  connectTimeout: number;
  tls: TlsOptions | null;
  logger: LoggerLike;
}

export function createBoundedHttpServer(o: ListenerOptions): HttpServer {
  const limits = boundedHttpOptions(o.connectTimeout, MAX_HEADER_SIZE);
  // A TLS handshake that never finishes is bounded the same way (Node's default is 120 s).
  const server = o.tls ? createHttpsServer({ handshakeTimeout: o.connectTimeout, ...o.tls, ...limits }) : createHttpServer(limits);
  if (o.tls) server.on('tlsClientError', (err) => o.logger.debug('TLS handshake failed:', err.message));
  return server as HttpServer;
}

/** Applies a new connectTimeout to a server made by `createBoundedHttpServer`. */
export function retimeHttpServer(server: HttpServer, connectTimeout: number): void {
  server.requestTimeout = connectTimeout;
  server.headersTimeout = connectTimeout;
}

const kTracked = Symbol('stelar.tracked');
type TrackedSocket = Socket & { [kTracked]?: Set<Socket> };

function onTrackedSocketClose(this: TrackedSocket): void {
  this[kTracked]?.delete(this);
}

/**
 * The TCP listener. `onSocket` gets each connection once it is usable (after TLS);
 * `sockets` tracks raw sockets from the first byte, so a stop also ends TLS handshakes in flight.
 */
export function createTcpListener(o: ListenerOptions, sockets: Set<Socket>, onSocket: (socket: Socket) => void): NetServer {
  // The session (and its connectTimeout) starts after TLS: bound the handshake itself too.
  const server = o.tls ? createTlsServer({ handshakeTimeout: o.connectTimeout, ...o.tls }, onSocket) : createNetServer(onSocket);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // A shared listener (the set rides on the socket), not a closure per connection.
    (socket as TrackedSocket)[kTracked] = sockets;
    socket.on('close', onTrackedSocketClose);
  });
  if (o.tls) {
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      o.logger.debug('TLS handshake failed:', err.message);
      // Node reports a handshake timeout here but leaves the socket open: close it ourselves.
      socket.destroy();
    });
  }
  server.on('error', (err: NodeJS.ErrnoException) => {
    // Accept errors (EMFILE...) are logged once per episode by the socket gate; a listen error
    // (EADDRINUSE...) is start()'s rejection, not a log line as well.
    if (err.syscall !== 'accept' && err.syscall !== 'listen') o.logger.error('TCP server error:', err);
  });
  return server;
}

export function listen(server: NetServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops listening; resolves once the server is closed (at once if it was not listening). */
export function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
