// `npm start`: the demo chat. One process: web page + WebSocket on PORT (3000), TCP on TCP_PORT (3001),
// /health, and a bot connected over TCP. Room history is kept in a file under the OS temp dir
// (HISTORY_FILE to choose it), or in Redis when REDIS_URL is set.
import http from 'node:http';
import { createChatService } from './chat-service.mjs';
import { openHistory } from './history-store.mjs';
import { serveStatic } from './static.mjs';
import { startBot } from './bot.mjs';

/** Startup problems are one line a person can act on, not a stack trace. */
function fail(line) {
  console.error(`stelar demo: ${line}`);
  process.exit(1);
}

function readPort(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${name}=${raw} is not a port number (0-65535)`);
  return port;
}

function portTaken(err, port, name) {
  if (err?.code !== 'EADDRINUSE') return fail(err?.message ?? String(err));
  fail(`port ${port} is already in use; pick another with ${name}=<port> (for example ${name}=${port + 100} npm start)`);
}

const port = readPort('PORT', 3000);
const tcpPort = readPort('TCP_PORT', 3001);

// The library logs a listen error before it rejects start(); the line above says it better, so that one is left out.
const logger = {
  debug() {},
  info: (...args) => console.log(...args),
  warn: (...args) => console.warn(...args),
  error: (...args) => {
    if (!args.some((a) => a?.code === 'EADDRINUSE')) console.error(...args);
  },
};

let history;
try {
  history = await openHistory(process.env);
} catch (err) {
  fail(`cannot open the history store: ${err.message}`);
}

const server = http.createServer(serveStatic);
const stelar = createChatService({ server, tcpPort, history, logger });

await new Promise((resolve) => {
  server.once('error', (err) => portTaken(err, port, 'PORT'));
  server.listen(port, resolve);
});
await stelar.start().catch((err) => portTaken(err, tcpPort, 'TCP_PORT'));

const bot = startBot({ port: stelar.getTcpPort() });
console.log(`stelar demo chat: http://localhost:${server.address().port}  (TCP on ${stelar.getTcpPort()}, health at /health)`);
console.log(`room history: ${history.url ? `Redis at ${history.url}` : history.file}`);

const shutdown = async () => {
  bot.disconnect();
  await stelar.stop();
  await history.close();
  server.close();
  process.exit(0);
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
