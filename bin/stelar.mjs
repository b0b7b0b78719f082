#!/usr/bin/env node
// `stelar` command line: run a server, poke a server, check a server's health.
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';

const USAGE = `usage:
  stelar serve   [--port 3000] [--tcp-port 3001] [--host 0.0.0.0] [--redis redis://127.0.0.1:6379]
  stelar connect <url> [--tcp]     interactive client (type "help" once connected)
  stelar health  <url>             prints the server's /health JSON; exit 1 when unhealthy
`;

function fail(message, code = 2) {
  process.stderr.write(`stelar: ${message}\n`);
  process.exit(code);
}

function parsePort(value, name) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${name} must be a port number (0-65535), got "${value}"`);
  return n;
}

async function serve(args) {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '3000' },
      'tcp-port': { type: 'string', default: process.env.TCP_PORT ?? '3001' },
      host: { type: 'string' },
      redis: { type: 'string' },
    },
  });
  const { StelarServer } = await import('../dist/index.js');
  const options = {
    port: parsePort(values.port, '--port'),
    tcpPort: values['tcp-port'] === 'off' ? false : parsePort(values['tcp-port'], '--tcp-port'),
    logger: 'info',
    gracefulShutdown: true,
  };
  if (values.host) options.host = values.host;
  if (values.redis) {
    let redisModule;
    try {
      redisModule = await import('../dist/adapter/redis/index.js');
    } catch {
      fail('--redis needs the Redis adapter (stelar-time-real/redis), which this build does not include');
    }
    const { createClient } = await import('redis').catch(() => fail('--redis needs the `redis` package: npm install redis'));
    const pub = createClient({ url: values.redis });
    await pub.connect().catch((err) => fail(`cannot reach Redis at ${values.redis}: ${err.message}`, 1));
    options.adapter = new redisModule.RedisAdapter({ client: pub });
  }
  const server = new StelarServer(options);
  // Echo an `echo` event and answer `ping` requests: enough to smoke-test a deployment.
  server.on('echo', (ctx) => ctx.emit('echo', ctx.data));
  server.onAck('ping', () => ({ pong: Date.now() }));
  const port = await server.start().catch((err) => fail(err.message, 1));
  const tcp = options.tcpPort === false ? '' : `, TCP on :${server.getTcpPort()}`;
  console.log(`stelar serving WebSocket on :${port}${tcp}`);
}

function describe(data) {
  if (data instanceof Uint8Array) return `<binary ${data.length} bytes>`;
  return JSON.stringify(data);
}

function parseJson(text) {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // bare words are sent as strings
  }
}

async function connect(args) {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { tcp: { type: 'boolean', default: false } } });
  const url = positionals[0];
  if (!url) fail(`connect needs a url\n${USAGE}`);
  const { StelarClient } = await import('../dist/index.js');
  let client;
  try {
    client = new StelarClient(url, { mode: values.tcp ? 'tcp' : 'ws', reconnection: false, logger: 'silent' });
  } catch (err) {
    fail(`bad url "${url}": ${err.message}`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
  const print = (line) => {
    process.stdout.write(`\r${line}\n`);
    rl.prompt(true);
  };
  client.on('connect', () => print(`connected as ${client.getId()} (${client.getUrl()})`));
  client.on('disconnect', (info) => {
    print(`disconnected (${info?.code ?? ''} ${info?.reason ?? ''})`);
    rl.close();
  });
  // Settles once the first connection attempt is decided, so a script piped into stdin that
  // ends early still sees the outcome before we exit.
  let settle;
  const firstAttempt = new Promise((resolve) => (settle = resolve));
  client.on('connect', () => settle(0));
  client.on('error', (err) => {
    const text = `${err?.message ?? err} ${err?.cause?.code ?? ''}`;
    const refused = /ECONNREFUSED|refused/i.test(text);
    print(refused ? `connection refused by ${client.getUrl()}: is the server running?` : `error: ${err?.message ?? err}`);
    if (!client.isConnected()) {
      settle(1);
      rl.close();
    }
  });
  client.onAll?.((event, data) => print(`< ${event} ${describe(data)}`));
  client.connect();
  rl.prompt();
  rl.on('line', async (line) => {
    const [cmd, name, ...rest] = line.trim().split(/\s+/);
    const payload = parseJson(rest.join(' '));
    try {
      switch (cmd) {
        case undefined:
        case '':
          break;
        case 'help':
          print('emit <event> [json] | join <room> | leave <room> | request <event> [json] | binary <event> <file> | quit');
          break;
        case 'emit':
          client.emit(name, payload);
          break;
        case 'join':
          client.joinRoom(name);
          break;
        case 'leave':
          client.leaveRoom(name);
          break;
        case 'request':
          print(`= ${describe(await client.request(name, payload, name))}`);
          break;
        case 'binary':
          client.emitBinary(name, await readFile(rest.join(' ')));
          break;
        case 'quit':
        case 'exit':
          rl.close();
          break;
        default:
          print(`unknown command "${cmd}" (try help)`);
      }
    } catch (err) {
      print(`error: ${err.message}`);
    }
    rl.prompt();
  });
  rl.on('close', async () => {
    const code = await Promise.race([firstAttempt, new Promise((r) => setTimeout(r, 10_000, 1))]);
    client.disconnect();
    process.exit(code);
  });
}

async function health(args) {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  const raw = positionals[0];
  if (!raw) fail(`health needs a url\n${USAGE}`);
  let url;
  try {
    url = new URL(/^\w+:\/\//.test(raw) ? raw.replace(/^ws/, 'http') : `http://${raw}`);
  } catch {
    fail(`bad url "${raw}"`);
  }
  if (url.pathname === '/') url.pathname = '/health';
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = err.cause?.code ?? err.name;
    fail(cause === 'ECONNREFUSED' ? `connection refused by ${url.host}: is the server running?` : `cannot reach ${url.href}: ${cause}`, 1);
  }
  const body = await res.text();
  console.log(body);
  process.exit(res.ok ? 0 : 1);
}

const [command, ...rest] = process.argv.slice(2);
const commands = { serve, connect, health };
if (!commands[command]) {
  process.stderr.write(USAGE);
  process.exit(command ? 2 : 0);
}
await commands[command](rest);
