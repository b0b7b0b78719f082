// The clients of dashboard-scale.test.mjs, in a child process of their own so the server's
// process holds only its side of the sockets (10,000 on each side would not fit one process's
// descriptor limit here). Usage: node dashboard-scale-clients.mjs <wsPort> <tcpPort> <count> <rooms>
// Each client i joins room-(2i % rooms) and room-(2i+1 % rooms) through the `rooms` event;
// a quarter use TCP. Prints "ready <ms>" once all are in, and exits when stdin ends.
import { connect } from './helpers.mjs';

const [wsPort, tcpPort, count, rooms] = process.argv.slice(2).map(Number);
const server = { getPort: () => wsPort, getTcpPort: () => tcpPort };
const BATCH = 200;
const clients = [];
const started = Date.now();
for (let i = 0; i < count; i += BATCH) {
  const batch = await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => connect(server, (i + k) % 4 === 0 ? 'tcp' : 'ws')));
  await Promise.all(
    batch.map((c, k) => {
      const j = i + k;
      c.emit('rooms', [`room-${(2 * j) % rooms}`, `room-${(2 * j + 1) % rooms}`]);
      return c.event('joined');
    }),
  );
  clients.push(...batch);
}
process.stdout.write(`ready ${Date.now() - started}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  for (const c of clients) c.terminate();
  process.exit(0);
});
