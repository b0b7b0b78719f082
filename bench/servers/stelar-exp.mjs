/**
 * EXPERIMENT, not the library: the stelar target with one change patched in at runtime,
 * to put a number on a proposal in bench/FINDINGS.md before anyone edits src/.
 *
 * "cork per tick": every frame a connection sends in one tick is queued on the socket and
 * written once, concatenated, from a single process.nextTick for all dirty sockets (the
 * uWS trick). Patched on the public send paths used by sessions (WebSocketConnection
 * .sendFrame/.send, TcpConnection.send). Control frames written internally (close, pong)
 * bypass the queue, which the real change must not do; the bench never mixes the two.
 * Selected with --only stelar-tcp+cork,stelar-ws+cork.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/targets.mjs';
import { start as startStelar } from './stelar.mjs';

const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);

function installCork({ WebSocketConnection, buildFrame, Opcode, TcpConnection }) {
  const kQueue = Symbol('queued frames');
  const dirty = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (let i = 0; i < dirty.length; i++) {
      const socket = dirty[i];
      const list = socket[kQueue];
      socket[kQueue] = null;
      if (!socket.writable) continue;
      socket.write(list.length === 1 ? list[0] : Buffer.concat(list));
    }
    dirty.length = 0;
  };
  const queue = (socket, bytes) => {
    if (!socket.writable) return false;
    let list = socket[kQueue];
    if (!list) {
      socket[kQueue] = list = [];
      dirty.push(socket);
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
    }
    list.push(bytes);
    return socket.writableLength < socket.writableHighWaterMark;
  };
  WebSocketConnection.prototype.sendFrame = function sendFrame(frame) {
    if (this.readyState !== 1) return false;
    return queue(this.socket, frame);
  };
  WebSocketConnection.prototype.send = function send(data, options = {}) {
    if (this.readyState !== 1) return false;
    const binary = options.binary ?? typeof data !== 'string';
    return queue(this.socket, buildFrame(binary ? Opcode.BINARY : Opcode.TEXT, data, { mask: false }));
  };
  TcpConnection.prototype.send = function send(frame) {
    if (this.readyState !== 1) return false;
    return queue(this.socket, frame);
  };
}

export async function start(options) {
  const [ws, tcp] = await Promise.all([dist('websocket/index.js'), dist('tcp/index.js')]);
  installCork({ ...ws, TcpConnection: tcp.TcpConnection });
  return startStelar(options);
}
