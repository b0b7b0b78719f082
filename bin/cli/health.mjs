// `stelar health <url>`: prints the server's /health JSON; exit 1 when unhealthy or unreachable.
import { fail, usageError } from './args.mjs';

const SYNOPSIS = 'usage: stelar health <url>\n';

/** What a usage error prints after its message. */
export const synopsis = `${SYNOPSIS}(stelar health --help for details)\n`;

export const usage = `${SYNOPSIS}
Prints the server's /health JSON. Exit status 0 when it answers 2xx, 1 when it is unhealthy
or cannot be reached.

  <url>        http(s)://host:port[/path], ws(s)://host:port, host:port, or a bare port
               (127.0.0.1:port); the path defaults to /health
  -h, --help   this help
`;

export const spec = { usage, synopsis, options: {}, positionals: ['url'] };

/** The /health url for what the user typed; a bare port is this machine, as for the client. */
function healthUrl(raw) {
  const text = raw.trim();
  let absolute;
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > 65535) usageError(`bad url "${raw}": a port must be from 1 to 65535`, synopsis);
    absolute = `http://127.0.0.1:${port}`;
  } else {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1].toLowerCase();
    if (scheme === undefined) absolute = `http://${text}`;
    else if (scheme === 'http' || scheme === 'https') absolute = text;
    else if (scheme === 'ws' || scheme === 'wss') absolute = text.replace(/^ws/i, 'http');
    else if (scheme === 'tcp' || scheme === 'tcps' || scheme === 'tls') {
      usageError(`bad url "${raw}": /health is served on the WebSocket/HTTP port, not over TCP`, synopsis);
    } else usageError(`bad url "${raw}": expected http(s)://, ws(s)://, host:port or a port`, synopsis);
  }
  let url;
  try {
    url = new URL(absolute);
  } catch {
    usageError(`bad url "${raw}"`, synopsis);
  }
  if (!url.hostname) usageError(`bad url "${raw}": it has no host`, synopsis);
  if (url.pathname === '/') url.pathname = '/health';
  return url;
}

export async function run({ positionals }) {
  const url = healthUrl(positionals[0]);
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = err.cause?.code ?? err.name;
    if (cause === 'ECONNREFUSED') fail(`connection refused by ${url.host}: is the server running?`);
    // The stelar TCP port answers an HTTP request with a binary frame.
    if (cause === 'HPE_INVALID_CONSTANT') fail(`${url.host} did not answer with HTTP: is it the TCP port? health needs the WebSocket/HTTP port`);
    fail(`cannot reach ${url.href}: ${err.cause?.message ?? err.message} (${cause})`);
  }
  const body = await res.text();
  console.log(body);
  process.exit(res.ok ? 0 : 1);
}
