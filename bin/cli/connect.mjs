// `stelar connect <url> [--tcp]`: an interactive client, also scriptable through stdin.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { loadLibrary, usageError } from './args.mjs';

/** Upper bound on the wait for outstanding requests at quit (the client's own ackTimeout is 5 s). */
const QUIT_WAIT_MS = 10_000;

const SYNOPSIS = 'usage: stelar connect <url> [--tcp]\n';

/** What a usage error prints after its message. */
export const synopsis = `${SYNOPSIS}(stelar connect --help for details)\n`;

export const usage = `${SYNOPSIS}
An interactive client. Once connected, type "help" for its commands. Commands can be piped
into stdin: at "quit" or the end of input it waits for outstanding requests (at most
${QUIT_WAIT_MS / 1000} s), then exits: 0 once connected, 1 when the connection failed.

  <url>        ws://host:port, wss://…, host:port, or a bare port (localhost)
  --tcp        use stelar's binary TCP protocol (<url>: host:port, tcp:// or tcps://)
  -h, --help   this help
`;

export const spec = { usage, synopsis, options: { tcp: { type: 'boolean' } }, positionals: ['url'] };

const COMMANDS = 'emit <event> [json] | join <room> | leave <room> | request <event> [json] | binary <event> <file> | quit';

function describe(data) {
  if (data instanceof Uint8Array) return `<binary ${data.length} bytes>`;
  return JSON.stringify(data);
}

/** The payload after `emit`/`request`: JSON, or else the text itself, with a warning saying so. */
function parsePayload(text, warn) {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    warn(`warning: not JSON, sent as the string ${JSON.stringify(text)}`);
    return text;
  }
}

/** One line for a connection error, naming the likely mistake where we can recognise it. */
function explain(err, client, tcp) {
  const message = err?.message ?? String(err);
  const text = `${message} ${err?.cause?.code ?? ''} ${err?.code ?? ''}`;
  if (/ECONNREFUSED|connection refused/i.test(text)) return `connection refused by ${client.getUrl()}: is the server running?`;
  // A WebSocket handshake sent to the TCP port gets a binary frame back, not an HTTP response.
  if (!tcp && /Expected HTTP\//.test(message)) return `${client.getUrl()} did not answer with HTTP: this port speaks TCP, try --tcp`;
  // A TCP client on the WebSocket port reads "HTTP/1.1 400" as a frame length: "HTTP" is 1213486160.
  if (tcp && /\b1213486160\b/.test(message)) return `${client.getUrl()} answered with HTTP: this port speaks WebSocket (HTTP), drop --tcp`;
  return `error: ${message}`;
}

export async function run({ values, positionals }) {
  const url = positionals[0];
  const tcp = values.tcp === true;
  const { StelarClient } = await loadLibrary();
  let client;
  try {
    client = new StelarClient(url, { mode: tcp ? 'tcp' : 'ws', reconnection: false, logger: 'silent' });
  } catch (err) {
    usageError(`bad url "${url}": ${err.message}`, synopsis);
  }
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ', terminal: interactive });
  let closed = false;
  const print = (line) => {
    if (interactive) process.stdout.write(`\r${line}\n`);
    else process.stdout.write(`${line}\n`);
    if (interactive && !closed) rl.prompt(true);
  };
  const prompt = () => {
    if (interactive && !closed) rl.prompt();
  };

  // Settles once the first connection attempt is decided, so a script piped into stdin that
  // ends early still sees the outcome before we exit.
  let settle;
  const firstAttempt = new Promise((resolve) => (settle = resolve));
  client.on('connect', () => {
    print(`connected as ${client.getId()} (${client.getUrl()})`);
    settle(0);
  });
  client.on('disconnect', (info) => {
    print(`disconnected (${info?.code ?? ''} ${info?.reason ?? ''})`);
    rl.close();
  });
  client.on('error', (err) => {
    print(explain(err, client, tcp));
    if (!client.isConnected()) {
      settle(1);
      rl.close();
    }
  });
  client.onAll?.((event, data) => print(`< ${event} ${describe(data)}`));
  client.connect();
  prompt();

  // Commands still running (a request waiting for its answer, a file being read): quit waits for them.
  const outstanding = new Set();
  const runLine = async (line) => {
    const [cmd, name, ...rest] = line.trim().split(/\s+/);
    const text = rest.join(' ');
    const needs = (what) => {
      if (name) return true;
      print(`${cmd} needs ${what} (try help)`);
      return false;
    };
    try {
      switch (cmd) {
        case undefined:
        case '':
          break;
        case 'help':
          print(COMMANDS);
          break;
        case 'emit':
          if (needs('an event name')) client.emit(name, parsePayload(text, print));
          break;
        case 'join':
          if (needs('a room')) client.joinRoom(name);
          break;
        case 'leave':
          if (needs('a room')) client.leaveRoom(name);
          break;
        case 'request':
          if (needs('an event name')) print(`= ${describe(await client.request(name, parsePayload(text, print), name))}`);
          break;
        case 'binary':
          if (needs('an event name and a file')) {
            if (!text) print('binary needs a file (try help)');
            else client.emitBinary(name, await readFile(text));
          }
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
    prompt();
  };
  rl.on('line', (line) => {
    if (closed) return; // lines already buffered after "quit"
    const task = runLine(line);
    outstanding.add(task);
    task.finally(() => outstanding.delete(task));
  });
  rl.on('close', async () => {
    closed = true;
    const bound = (promise, ms, value) => Promise.race([promise, new Promise((r) => setTimeout(r, ms, value).unref())]);
    const deadline = Date.now() + QUIT_WAIT_MS;
    const code = await bound(firstAttempt, QUIT_WAIT_MS, 1);
    if (code === 0 && outstanding.size > 0) {
      const done = await bound(
        Promise.allSettled([...outstanding]).then(() => true),
        Math.max(0, deadline - Date.now()),
        false,
      );
      if (!done) print(`gave up waiting for ${outstanding.size} outstanding command(s) after ${QUIT_WAIT_MS / 1000} s`);
    }
    client.disconnect();
    process.exit(code);
  });
}
