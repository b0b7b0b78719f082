// Helpers for the `stelar` command-line tests: run the CLI as a child process, find a closed port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/stelar.mjs', import.meta.url));

/**
 * Runs `stelar ...args`; resolves { code, stdout, stderr } once it exits. `input` is written
 * to its stdin, which is then ended (a script piped in); the child is killed after `timeout`.
 */
export function run(args, { input, env, timeout = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`stelar ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading its input
    child.stdin.end(input ?? '');
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound once, then closed). */
export function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** No Node stack trace or internal error code anywhere in `text`. */
export function assertNoStack(text) {
  assert.doesNotMatch(text, /^\s+at .+[(:]\d+/m, `a stack trace:\n${text}`);
  assert.doesNotMatch(text, /ERR_[A-Z_]+|node:internal/, `an internal error:\n${text}`);
}
