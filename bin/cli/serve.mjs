// `stelar serve`: a StelarServer that echoes `echo` events and answers `ping` requests.
import { fail, loadLibrary, usageError } from './args.mjs';

const SYNOPSIS =
  'usage: stelar serve [--port 3000] [--tcp-port 3001|off] [--host 0.0.0.0] [--redis redis://host:6379]\n' +
  '                    [--metrics] [--dashboard] [--dashboard-token <token>]\n';

/** What a usage error prints after its message. */
export const synopsis = `${SYNOPSIS}(stelar serve --help for details)\n`;

export const usage = `${SYNOPSIS}
Runs a server: WebSocket (and GET /health) on --port, stelar's binary TCP protocol on
--tcp-port. It echoes \`echo\` events and answers \`ping\` requests: enough to smoke-test a
deployment. Ctrl-C (SIGINT) or SIGTERM shuts it down gracefully.

  --port <port>       WebSocket/HTTP port (default: $PORT, else 3000; 0 picks a free one)
  --tcp-port <port>   TCP port, or "off" (default: $TCP_PORT, else 3001)
  --host <address>    address to listen on (default: every address)
  --redis <url>       redis:// or rediss:// url: share rooms and broadcasts with other
                      instances (needs the \`redis\` package)
  --metrics           Prometheus metrics at GET /metrics on --port; with $STELAR_METRICS_TOKEN
                      set, only for requests with \`Authorization: Bearer <that token>\`
  --dashboard         serve the live dashboard page at /dashboard on --port; without a
                      token only with a loopback --host (127.0.0.1, ::1, localhost)
  --dashboard-token <token>
                      the dashboard's token (16+ characters; implies --dashboard), or
                      $STELAR_DASHBOARD_TOKEN (kept out of the process list)
  -h, --help          this help
`;

export const spec = {
  usage,
  synopsis,
  options: {
    port: { type: 'string' },
    'tcp-port': { type: 'string' },
    host: { type: 'string' },
    redis: { type: 'string' },
    dashboard: { type: 'boolean' },
    'dashboard-token': { type: 'string' },
    metrics: { type: 'boolean' },
  },
  positionals: [],
};

/** An option's value, or the environment variable standing in for it, as a port number. */
function portOf(values, option, envName, fallback) {
  const fromOption = values[option] !== undefined;
  const text = fromOption ? values[option] : (process.env[envName] ?? fallback);
  if (option === 'tcp-port' && text === 'off') return false;
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n > 65535) {
    const name = fromOption ? `--${option}` : `${envName} (from the environment)`;
    const range = option === 'tcp-port' ? 'a port number (0-65535) or "off"' : 'a port number (0-65535)';
    usageError(`${name} must be ${range}, got "${text}"`, synopsis);
  }
  return n;
}

/** `--metrics`: on at /metrics, behind the token from the environment when there is one. */
function metricsOption(token) {
  if (token === undefined || token === '') return { path: '/metrics' };
  if (!/^[\x21-\x7e]{1,1024}$/.test(token))
    usageError('STELAR_METRICS_TOKEN (from the environment) must be 1 to 1024 visible ASCII characters, no spaces', synopsis);
  return { path: '/metrics', token };
}

function checkRedisUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {}
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    usageError(`--redis must be a redis:// or rediss:// url (redis://host:6379), got "${text}"`, synopsis);
  }
}

const MIN_TOKEN = 16;
const isLoopback = (host) => host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host ?? '');

/** The `dashboard` option from --dashboard, --dashboard-token and $STELAR_DASHBOARD_TOKEN; undefined when off. */
function dashboardOption(values, host) {
  const fromOption = values['dashboard-token'] !== undefined;
  if (!values.dashboard && !fromOption) return undefined;
  const token = fromOption ? values['dashboard-token'] : process.env.STELAR_DASHBOARD_TOKEN || undefined;
  if (token !== undefined && token.length < MIN_TOKEN) {
    const name = fromOption ? '--dashboard-token' : 'STELAR_DASHBOARD_TOKEN (from the environment)';
    usageError(`${name} must be at least ${MIN_TOKEN} characters (a long random string), got ${token.length}`, synopsis);
  }
  if (token === undefined && !isLoopback(host)) {
    usageError(`--dashboard without a token is only served on loopback: add --host 127.0.0.1, or --dashboard-token (${MIN_TOKEN}+ characters)`, synopsis);
  }
  return token === undefined ? true : { token };
}

/** Where the dashboard can be opened, for the startup line. */
function dashboardUrl(host, port) {
  const name = host === undefined || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}/dashboard`;
}

async function redisAdapter(url) {
  let redisModule;
  try {
    redisModule = await import('../../dist/adapter/redis/index.js');
  } catch {
    fail('--redis needs the Redis adapter (stelar-time-real/redis), which this build does not include');
  }
  const { createClient } = await import('redis').catch(() => fail('--redis needs the `redis` package: npm install redis'));
  let pub;
  try {
    pub = createClient({ url });
  } catch (err) {
    fail(`--redis ${url}: ${err.message}`, 2);
  }
  await pub.connect().catch((err) => fail(`cannot reach Redis at ${url}: ${err.message}`));
  return new redisModule.RedisAdapter({ client: pub });
}

/** One line for a failed start; a port in use names the option that chose it. */
function listenFailure(err, options) {
  if (err?.code === 'EADDRINUSE' && err.syscall === 'listen') {
    const which = err.port === options.tcpPort ? 'TCP port (--tcp-port)' : 'WebSocket port (--port)';
    return `the ${which} ${err.port} is already in use: stop what listens there or choose another port`;
  }
  return err?.message ?? String(err);
}

export async function run({ values }) {
  const options = {
    port: portOf(values, 'port', 'PORT', '3000'),
    tcpPort: portOf(values, 'tcp-port', 'TCP_PORT', '3001'),
    logger: 'info',
    gracefulShutdown: true,
  };
  if (options.port !== 0 && options.port === options.tcpPort)
    usageError(`--port and --tcp-port are both ${options.port}: they need two different ports`, synopsis);
  if (values.host !== undefined) {
    if (values.host.trim() === '') usageError('--host must not be empty', synopsis);
    options.host = values.host;
  }
  if (values.redis !== undefined) checkRedisUrl(values.redis);
  const dashboard = dashboardOption(values, options.host);
  if (dashboard !== undefined) options.dashboard = dashboard;
  if (values.metrics) options.metrics = metricsOption(process.env.STELAR_METRICS_TOKEN);
  const { StelarServer } = await loadLibrary();
  if (values.redis !== undefined) options.adapter = await redisAdapter(values.redis);
  const server = new StelarServer(options);
  server.on('echo', (ctx) => ctx.emit('echo', ctx.data));
  server.onAck('ping', () => ({ pong: Date.now() }));
  const port = await server.start().catch((err) => fail(listenFailure(err, options)));
  const tcp = options.tcpPort === false ? '' : `, TCP on :${server.getTcpPort()}`;
  const metrics = options.metrics ? `, metrics at /metrics${options.metrics.token ? ' (bearer token)' : ''}` : '';
  console.log(`stelar serving WebSocket on :${port}${tcp}${metrics}`);
  if (dashboard !== undefined) console.log(`dashboard on ${dashboardUrl(options.host, port)}${dashboard === true ? '' : ' (token required)'}`);
}
