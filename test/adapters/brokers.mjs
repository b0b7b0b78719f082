// Brokers the adapter contract runs against: a throwaway server of our own on a free
// loopback port (never the shared one on the default port), started as a child process, so
// a test may kill it and start it again on the same port. A broker whose program is missing
// fails the suite under CI=true and skips it elsewhere.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';

export const CI = process.env.CI === 'true' || process.env.CI === '1';

/** Is `command` on the PATH (it answers `--version`)? */
export function hasTool(command) {
  const res = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return !res.error && res.status === 0;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `port` accepts a connection that sends `greeting` (or anything, when null) first. */
async function accepts(port, probe) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      if (probe.send) socket.write(probe.send);
    });
    socket.once('data', (d) => done(String(d).startsWith(probe.expect)));
  });
}

/** Spawns `command args` and waits until the port answers like the broker should. */
async function startServer(name, command, args, port, probe) {
  const child = spawn(command, args, { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const end = Date.now() + 10_000;
  while (!(await accepts(port, probe))) {
    if (exited || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${name} on port ${port} did not start`);
    }
    await sleep(30);
  }
  return {
    port,
    child,
    /** SIGKILL: no goodbye to its clients, nothing saved. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

export const REDIS = {
  tool: 'redis-server',
  install: 'apt-get install -y redis-server',
  start: (port) =>
    startServer('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], port, {
      send: 'PING\r\n',
      expect: '+PONG',
    }),
};

export const NATS = {
  tool: 'nats-server',
  install: 'apt-get install -y nats-server',
  // Core NATS only: the adapter does not use JetStream.
  start: (port, extra = []) => startServer('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), ...extra], port, { expect: 'INFO ' }),
};
