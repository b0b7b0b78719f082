/**
 * Client side of the TCP transport: open a plain or TLS socket and wrap it.
 * Resolves once the socket is connected (after the TLS handshake for `tls: true`);
 * rejects with a StelarError whose message names the address and the system error
 * (ECONNREFUSED, ENOTFOUND, a certificate problem...) or the timeout.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ErrorCode, StelarError } from '../protocol/index.js';
import { TcpConnection } from './connection.js';

export interface ConnectTcpOptions {
  host?: string;
  port: number;
  /** Wrap the connection in TLS. */
  tls?: boolean;
  /** TLS: refuse certificates that do not verify. Default true. */
  rejectUnauthorized?: boolean;
  /** TLS: trusted CA certificate(s), e.g. a self-signed server certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** TLS: SNI name and the name the certificate is checked against. Default: host (unless it is an IP). */
  servername?: string;
  /** Largest inbound frame accepted, prefix included. Default 10 MiB. */
  maxFrameSize?: number;
  /** Give up connecting after this many ms. Default 10000. */
  timeout?: number;
  /** See TcpConnectionOptions.closeTimeout. */
  closeTimeout?: number;
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;

function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'ECONNREFUSED (connection refused: nothing listens on that port)';
  if (err.code === 'ENOTFOUND') return 'ENOTFOUND (host name not found)';
  return err.code ? `${err.code} (${err.message})` : err.message;
}

export function connectTcp(options: ConnectTcpOptions): Promise<TcpConnection> {
  const host = options.host ?? 'localhost';
  const port = options.port;
  const where = `${options.tls ? 'tls' : 'tcp'}://${host}:${port}`;
  return new Promise<TcpConnection>((resolve, reject) => {
    let socket: net.Socket;
    if (options.tls) {
      const tlsOptions: tls.ConnectionOptions = {
        host,
        port,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      };
      if (options.ca !== undefined) tlsOptions.ca = options.ca;
      // SNI must be a host name; Node warns (and sends nothing useful) for an IP.
      const servername = options.servername ?? (net.isIP(host) ? undefined : host);
      if (servername) tlsOptions.servername = servername;
      socket = tls.connect(tlsOptions);
    } else {
      socket = net.connect({ host, port });
    }
    const timeoutMs = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
    const timer = setTimeout(() => {
      fail(new StelarError(ErrorCode.CONNECT_TIMEOUT, `connecting to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);

    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off(options.tls ? 'secureConnect' : 'connect', onConnect);
    };
    function fail(err: StelarError): void {
      cleanup();
      socket.on('error', () => {}); // a late error from the dying socket must not crash anyone
      socket.destroy();
      reject(err);
    }
    function onError(cause: NodeJS.ErrnoException): void {
      const err = new StelarError(ErrorCode.CONNECTION_CLOSED, `cannot connect to ${where}: ${describe(cause)}`);
      err.cause = cause;
      fail(err);
    }
    function onConnect(): void {
      // The connection attaches its own error listener before ours goes away.
      const connection = new TcpConnection(socket, {
        maxFrameSize: options.maxFrameSize,
        closeTimeout: options.closeTimeout,
      });
      cleanup();
      resolve(connection);
    }
    socket.once('error', onError);
    socket.once(options.tls ? 'secureConnect' : 'connect', onConnect);
  });
}
