// Type tests: a TypeScript file using the public .d.ts must compile, and every line marked
// @ts-expect-error must really be an error (tsc reports unused expectations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(root, 'dist', 'index.js');

const fixture = `
import DefaultServer, { StelarServer, type StelarContext, type StelarStats, type IRateLimiter, type IIPTracker,
  type ServerOptions, type ServerHooks, type ClientSummary } from ${JSON.stringify(dist)};

interface ClientEvents { chat: { text: string }; move: { x: number; y: number } }
interface ServerEvents { chat: { from: string; text: string }; welcome: { id: string } }

const s = new StelarServer<ClientEvents, ServerEvents>({ port: 0 });
s.on('chat', (ctx) => {
  const text: string = ctx.data.text;
  ctx.broadcast('chat', { from: ctx.id, text });
  ctx.to('room', 'chat', { from: ctx.id, text }, ctx.id);
  // @ts-expect-error the server event map says chat carries { from, text }
  ctx.emit('chat', { text });
});
// @ts-expect-error not a client event
s.on('nope', () => {});
s.on('move', (ctx) => {
  // @ts-expect-error x is a number
  const bad: string = ctx.data.x;
  return bad;
});
s.onConnection((client) => client.emit('welcome', { id: client.id }));
// @ts-expect-error wrong payload type
s.broadcast('welcome', { id: 1 });
// @ts-expect-error not a server event
s.to('room', 'unknown', {});
s.onDisconnect((client, info) => info.code + client.id.length);

// Auth that refreshes and backpressure.
s.use((ctx, next) => {
  ctx.setExpiry(new Date(Date.now() + 60_000)).setExpiry(Date.now() + 60_000).setExpiry(null);
  const at: number | null = ctx.expiresAt;
  // @ts-expect-error an expiry is a Date, epoch ms or null, not a string
  ctx.setExpiry('2030-01-01');
  next(at === null ? undefined : new Error('x'));
});
s.onDrain(async (client) => {
  const buffered: number = client.bufferedAmount;
  const sent: boolean = client.emit('welcome', { id: client.id });
  const wait: Promise<void> = client.drained();
  await wait;
  // @ts-expect-error the server event map applies to a drained client too
  client.emit('welcome', { id: 1 });
  return buffered + Number(sent);
});
// @ts-expect-error onDrain takes a handler
s.onDrain();
const lead: number | undefined = ({ authRefreshLeadTime: 5000 } satisfies ServerOptions).authRefreshLeadTime;
// Server -> client requests: the data is checked against the server event map, the answer typed by the caller.
s.onConnection(async (client) => {
  const answer: { ok: boolean } = await client.request<{ ok: boolean }>('welcome', { id: client.id }, { timeout: 100 });
  void answer;
  // @ts-expect-error the server event map says welcome carries { id: string }
  void client.request('welcome', { id: 1 });
  // @ts-expect-error not a server event
  void client.request('nope', {});
});
const asked: Promise<number> = s.request<number>('some-id', 'welcome', { id: 'x' }, { timeout: 100, ackName: 'hello' });
// @ts-expect-error wrong payload type
void s.request('some-id', 'welcome', { id: 2 });
// @ts-expect-error timeout is a number
void s.request('some-id', 'welcome', { id: 'x' }, { timeout: '1s' });
void asked;

const stats: StelarStats = s.getStats();
const n: number = stats.wsConnections + stats.tcpConnections + stats.memoryUsage.heapUsed;
const clients: ClientSummary[] = s.getClients('room');

// Without event maps anything goes, as in plain JavaScript.
const untyped: StelarServer = new DefaultServer({ port: 0 });
untyped.on('anything', (ctx: StelarContext) => ctx.data.whatever);
untyped.broadcast('x', { any: 'thing' });

class Limiter implements IRateLimiter {
  async check(id: string, cost = 1) { return id.length > cost; }
  async reset(_id: string) {}
  async cleanup() {}
  async size() { return 0; }
}
class Tracker implements IIPTracker {
  check(_ip: string) { return true; }
  add(_ip: string) {}
  remove(_ip: string) {}
  getCount(_ip: string) { return 0; }
  cleanup() {}
}
const hooks: ServerHooks = {
  onRateLimitExceeded: ({ clientId, event, protocol }) => clientId === event && protocol === 'ws' ? false : undefined,
  onClientJoinRoom: ({ room, metadata }) => !(room.startsWith('admin-') && metadata.get('role') !== 'admin'),
};
const options: ServerOptions = { port: 0, customRateLimiter: new Limiter(), customIPTracker: new Tracker(), hooks };
export { n, clients, options, lead };
`;

test('typed event maps are checked; public types are exported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stelar-types-'));
  try {
    writeFileSync(join(dir, 'fixture.ts'), fixture);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['fixture.ts'],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (err) {
      output = `${err.stdout}${err.stderr}`;
    }
    assert.equal(output, '', output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
