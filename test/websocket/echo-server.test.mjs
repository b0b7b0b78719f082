// `npm run echo-server`: the standalone echo server a conformance suite would be pointed at,
// driven by the `ws` package (a peer we did not write).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const SCRIPT = fileURLToPath(new URL('../../scripts/echo-server.mjs', import.meta.url));

test('echo server: text, binary, empty and 16 MiB messages come back unchanged; SIGTERM ends it', async () => {
  const child = spawn(process.execPath, [SCRIPT, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    while (!/ws:\/\/\S+:\d+/.test(out)) out += (await once(child.stdout, 'data'))[0];
    const url = out.match(/ws:\/\/\S+:\d+/)[0];
    const ws = new WebSocket(url, { maxPayload: 32 * 1024 * 1024 });
    await once(ws, 'open');
    const replies = [];
    ws.on('message', (data, isBinary) => replies.push([Buffer.from(data), isBinary]));
    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    const sent = [
      [Buffer.from('héllo'), false],
      [Buffer.from([0, 1, 2, 255]), true],
      [Buffer.alloc(0), true],
      [big, true],
    ];
    for (const [data, binary] of sent) ws.send(data, { binary });
    const deadline = Date.now() + 20_000;
    while (replies.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(replies.length, sent.length);
    sent.forEach(([data, binary], i) => {
      assert.equal(replies[i][1], binary, `message ${i} keeps its type`);
      assert.ok(replies[i][0].equals(data), `message ${i} unchanged`);
    });
    ws.close(1000);
    await once(ws, 'close');
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  }
});
