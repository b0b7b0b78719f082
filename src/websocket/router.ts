/**
 * One `upgrade` listener per HTTP server, shared by every WebSocketServer attached to it.
 *
 * Several WebSocketServers (and other libraries) may live on one HTTP server. If each added
 * its own `upgrade` listener, each would see every upgrade and have to guess whether
 * another one wants it. Instead the first WebSocketServer installs a single listener that
 * routes by pathname: the exact path first, then `/` as the catch-all. An upgrade that no
 * WebSocketServer owns is left alone when the server has other `upgrade` listeners, and
 * answered 404 only when nobody else could answer it. The last WebSocketServer to detach
 * removes the listener, leaving the server as it found it.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketConnection } from './connection.js';
import { abortHandshake } from './handshake.js';

/** What the router needs from a WebSocketServer. */
export interface UpgradeTarget {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocketConnection, req: IncomingMessage) => void): void;
  emit(event: 'connection', ws: WebSocketConnection, req: IncomingMessage): boolean;
}

interface Router {
  byPath: Map<string, UpgradeTarget[]>;
  listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const routers = new WeakMap<Server, Router>();

/** The pathname of a request target (origin-form or absolute-form), without the query. */
export function pathnameOf(url: string | undefined): string {
  if (!url) return '/';
  let path = url;
  if (path.charCodeAt(0) !== 0x2f) {
    // absolute-form (`GET http://host/path`): skip scheme and authority
    const scheme = path.indexOf('://');
    if (scheme === -1) return path;
    const slash = path.indexOf('/', scheme + 3);
    path = slash === -1 ? '/' : path.slice(slash);
  }
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

export function attach(server: Server, path: string, target: UpgradeTarget): void {
  let router = routers.get(server);
  if (!router) {
    const byPath = new Map<string, UpgradeTarget[]>();
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const owner = byPath.get(pathnameOf(req.url))?.[0] ?? byPath.get('/')?.[0];
      if (owner) {
        owner.handleUpgrade(req, socket, head, (ws, r) => owner.emit('connection', ws, r));
        return;
      }
      if (server.listenerCount('upgrade') > 1) return; // someone else's upgrade
      abortHandshake(socket, 404);
    };
    router = { byPath, listener };
    routers.set(server, router);
    server.on('upgrade', listener);
  }
  const list = router.byPath.get(path);
  if (list) list.push(target);
  else router.byPath.set(path, [target]);
}

export function detach(server: Server, path: string, target: UpgradeTarget): void {
  const router = routers.get(server);
  if (!router) return;
  const list = router.byPath.get(path);
  if (list) {
    const i = list.indexOf(target);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) router.byPath.delete(path);
  }
  if (router.byPath.size === 0) {
    server.off('upgrade', router.listener);
    routers.delete(server);
  }
}
