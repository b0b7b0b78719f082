#!/usr/bin/env node
// A standalone RFC 6455 echo server on our own WebSocket layer (for interop suites such as
// Autobahn, and for manual testing): every text and binary message is sent back unchanged.
//
//   npm run build && npm run echo-server -- --port 9001 [--host 127.0.0.1] [--deflate [--deflate-keep-context]]
//
// --deflate turns permessage-deflate (RFC 7692) on, compressing every message (threshold 0:
// a conformance run should see compression on every size), each on its own (no context kept,
// the library's default). --deflate-keep-context keeps the compression context between
// messages in both directions instead (serverNoContextTakeover and clientNoContextTakeover
// off), unless the client asks otherwise.
import { WebSocketServer } from '../dist/websocket/index.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < process.argv.length) return process.argv[i + 1];
  const inline = process.argv.find((a) => a.startsWith(`--${name}=`));
  return inline ? inline.slice(name.length + 3) : fallback;
}

const flag = (name) => process.argv.includes(`--${name}`);
const port = Number(arg('port', '9001'));
const host = arg('host', '127.0.0.1');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${arg('port')}`);
  process.exit(2);
}

const keepContext = flag('deflate-keep-context');
const perMessageDeflate =
  flag('deflate') || keepContext ? { threshold: 0, ...(keepContext ? { serverNoContextTakeover: false, clientNoContextTakeover: false } : {}) } : false;
const wss = new WebSocketServer({ port, host, maxPayload: 16 * 1024 * 1024, perMessageDeflate });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {}); // the connection already sent the close code; nothing else to do
});
wss.on('error', (err) => {
  console.error(`echo server error: ${err.message}`);
  process.exit(1);
});
wss.on('listening', () => {
  const address = wss.address();
  const compression = perMessageDeflate ? ` (permessage-deflate${keepContext ? ', contexts kept' : ''})` : '';
  console.log(`echo server listening on ws://${host}:${typeof address === 'object' && address ? address.port : port}${compression}`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  wss.close(() => process.exit(0));
  // connections that ignore the 1001 close are cut when their closeTimeout ends; never hang here
  setTimeout(() => process.exit(0), 6000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
