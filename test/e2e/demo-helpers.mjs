// What the demo's end-to-end tests share: a free port, the demo started in this process or as
// `npm start` would run it (a child process), and a Chromium that must exist under CI.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createChatService } from '../../demo/chat-service.mjs';
import { serveStatic } from '../../demo/static.mjs';

export const CHROMIUM = '/usr/bin/chromium';
export const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI must install it (apt-get install -y chromium)`);
}
export const SERVER_SCRIPT = fileURLToPath(new URL('../../demo/server.mjs', import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    timeout: 30_000,
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** The chat service on an HTTP server in this process (options go to createChatService). */
export async function startDemo({ port = 0, tcpPort = 0, ...options } = {}) {
  const server = http.createServer(serveStatic);
  const stelar = createChatService({ server, tcpPort, logger: 'silent', ...options });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await stelar.start();
  return {
    stelar,
    port: server.address().port,
    tcpPort: stelar.getTcpPort(),
    async stop() {
      await stelar.stop();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * `node demo/server.mjs` with `env` added. Resolves once it printed its address, or with its exit
 * when it ends first (a startup failure). `stop()` sends SIGTERM and waits for the exit.
 */
export function spawnDemo(env) {
  const child = spawn(process.execPath, [SERVER_SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start in 15 s:\n${stdout}\n${stderr}`)), 15_000);
    child.stdout.on('data', () => {
      if (stdout.includes('stelar demo chat:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    exited.then(() => clearTimeout(timer));
  });
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves 'ready' or the exit of a process that never got there. */
    started: Promise.race([ready.then(() => 'ready'), exited]),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Opens the page and logs in as `name`; the page's errors and failed requests are collected. */
export async function openChat(browser, port, name, { viewport } = {}) {
  const page = await browser.newPage(viewport ? { viewport } : undefined);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => msg.type() === 'error' && page.problems.push(`console: ${msg.text()}`));
  page.on('response', (res) => res.status() >= 400 && page.problems.push(`${res.status()} ${res.url()}`));
  await page.goto(`http://127.0.0.1:${port}/`);
  if (name !== undefined) {
    await page.fill('#name', name);
    await page.click('#login button');
    await page.waitForSelector('#state[data-state="connected"]', { timeout: 10_000 });
  }
  return page;
}

/** Waits until a message line containing `text` shows on `page`. */
export const messageIn = (page, text, timeout = 10_000) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#messages li')].some((li) => li.textContent.includes(t)), text, { timeout });

/** The text of every line on the page's message list. */
export const lines = (page) => page.$$eval('#messages li', (lis) => lis.map((li) => li.textContent));
