// docs/protocol-vectors.json is used here the way a third-party implementation would use it:
// the packets and frames through our codec (both ways), the invalid ones refused with the
// stated error and close code, PROTOCOL.md's examples all present in it, and the server and
// client conversations replayed against the reference server and client on both transports.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { StelarClient } from '../../dist/index.js';
import { decodePacket, encodePacket, isStelarError, PacketType } from '../../dist/protocol/index.js';
import { TcpFrameParser } from '../../dist/tcp/index.js';
import { HOST, openTcp, openWs, startServer } from '../server/helpers.mjs';

const read = (name) => readFileSync(fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)), 'utf8');
const vectors = JSON.parse(read('protocol-vectors.json'));
const RAW_TYPES = new Set([PacketType.BINARY, PacketType.PING, PacketType.PONG]);
const TIMEOUT = 3000;

/** The vectors' notation -> what the codec takes ("hex:..." -> bytes). */
function toCodec(p) {
  const q = { ...p };
  if (RAW_TYPES.has(p.type) && typeof p.data === 'string') q.data = Buffer.from(p.data.slice(4), 'hex');
  return q;
}
/** A decoded packet -> the vectors' notation. */
function toVector(p) {
  const q = { ...p };
  if (q.data instanceof Uint8Array) q.data = `hex:${Buffer.from(q.data).toString('hex')}`;
  if (q.data === undefined) delete q.data;
  return q;
}
const bytesOf = (hex) => Buffer.from(hex, 'hex');

/** `expect` matching: every field given equal; object data needs only the keys given. */
function assertMatches(actual, expected, label) {
  const got = toVector(actual);
  for (const [key, want] of Object.entries(expected)) {
    if (key === 'data' && want && typeof want === 'object' && !Array.isArray(want)) {
      assert.ok(got.data && typeof got.data === 'object', `${label}: data is not an object: ${JSON.stringify(got)}`);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got.data[k], v, `${label}: data.${k} in ${JSON.stringify(got)}`);
    } else {
      assert.deepEqual(got[key], want, `${label}: ${key} in ${JSON.stringify(got)}`);
    }
  }
}

describe('packets and frames', () => {
  test('the file is what it says it is', () => {
    assert.equal(vectors.protocolVersion, 1);
    assert.ok(vectors.packets.length >= 20 && vectors.invalid.length >= 10 && vectors.server.scenarios.length >= 20);
  });

  test('every packet decodes to the packet given and encodes back to the same bytes', () => {
    for (const v of vectors.packets) {
      assert.deepEqual(toVector(decodePacket(bytesOf(v.hex))), v.packet, `decode: ${v.name}`);
      assert.equal(Buffer.from(encodePacket(toCodec(v.packet))).toString('hex'), v.hex, `encode: ${v.name}`);
    }
  });

  test('every frame has the right totalLen, goes through the frame parser whole, and encodes back', () => {
    for (const v of vectors.frames) {
      const bytes = bytesOf(v.hex);
      assert.equal(bytes.readUInt32BE(0), bytes.length, `totalLen: ${v.name}`);
      const got = [];
      const parser = new TcpFrameParser({ onFrame: (p) => got.push(p), onError: (err) => assert.fail(`${v.name}: ${err.message}`) });
      for (const b of bytes) parser.push(Buffer.from([b])); // one byte at a time: chunking means nothing
      assert.equal(got.length, 1, v.name);
      assert.deepEqual(toVector(decodePacket(got[0])), v.packet, `decode: ${v.name}`);
      assert.equal(Buffer.from(encodePacket(toCodec(v.packet), 4)).toString('hex'), v.hex, `encode: ${v.name}`);
    }
  });

  test('every invalid packet is refused with the error and close code given', () => {
    for (const v of vectors.invalid) {
      assert.throws(
        () => decodePacket(bytesOf(v.hex)),
        (err) => isStelarError(err) && err.code === v.error && err.closeCode === v.closeCode,
        v.name,
      );
    }
  });

  test('every invalid frame is refused from its prefix with the error and close code given', () => {
    for (const v of vectors.invalidFrames) {
      const errors = [];
      const parser = new TcpFrameParser({ onFrame: () => assert.fail(`${v.name}: a frame came out`), onError: (err) => errors.push(err) });
      parser.push(bytesOf(v.hex));
      assert.equal(errors.length, 1, v.name);
      assert.deepEqual([errors[0].code, errors[0].closeCode], [v.error, v.closeCode], v.name);
    }
  });

  test("PROTOCOL.md's examples are all in the file, with the same bytes", () => {
    const doc = read('PROTOCOL.md');
    const known = new Set([...vectors.packets, ...vectors.frames].map((v) => `${v.hex} ${JSON.stringify(v.packet)}`));
    let n = 0;
    for (const m of doc.matchAll(/```stelar-example\n([\s\S]*?)```/g)) {
      const lines = m[1].split('\n').filter((l) => l.trim() !== '');
      const packet = JSON.parse(lines[0].replace(/^(packet|frame) /, ''));
      const hex = [];
      for (const line of lines.slice(1))
        for (const t of line.trim().split(/\s+/))
          if (/^[0-9a-f]{2}$/.test(t)) hex.push(t);
          else break;
      assert.ok(known.has(`${hex.join('')} ${JSON.stringify(packet)}`), `example not in protocol-vectors.json: ${lines[0]}`);
      n++;
    }
    assert.ok(n >= 15, `${n} examples`);
  });
});

// ---- the reference server -------------------------------------------------------------------

/** Runs one scenario's steps on a raw connection (the test helpers' TestClient). */
async function runAgainstServer(raw, scenario, transport) {
  const label = `${transport}: ${scenario.name}`;
  if (scenario.handshake !== false) await raw.handshake();
  for (const [i, step] of scenario.steps.entries()) {
    const at = `${label} (step ${i + 1})`;
    if (step.send !== undefined) {
      const bytes = bytesOf(step.send);
      raw._write(transport === 'tcp' ? Buffer.concat([u32(bytes.length + 4), bytes]) : bytes);
    } else if (step.sendRaw !== undefined) raw.writeRaw(bytesOf(step.sendRaw));
    else if (step.sendText !== undefined) raw.sendText(step.sendText);
    else if (step.expect !== undefined) assertMatches(await nextPacket(raw, at), step.expect, at);
    else if (step.expectClose !== undefined) {
      const info = await withTimeout(raw.closed, at);
      assert.deepEqual(
        raw.inbox.map((p) => toVector(p)),
        [],
        `${at}: nothing before the close`,
      );
      assert.equal(info.code, step.expectClose, `${at}: close code`);
    } else assert.fail(`${at}: unknown step ${JSON.stringify(step)}`);
  }
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT)))]).finally(() =>
    clearTimeout(timer),
  );
}

/** The very next packet (strict order), or a failure if the connection closes first. */
function nextPacket(raw, what) {
  return raw.waitFor(() => true, what, TIMEOUT);
}

for (const transport of ['ws', 'tcp']) {
  describe(`the reference server, over ${transport}`, () => {
    let server;
    const open = [];
    before(async () => {
      server = await startServer({ logger: false, ...vectors.server.options });
      server.onAck('echo', (ctx) => ctx.data);
      server.onAck('limited', (ctx) => ctx.data);
    });
    after(async () => {
      for (const raw of open) await raw.terminate();
      await server.stop();
    });

    for (const scenario of vectors.server.scenarios) {
      if (scenario.transports && !scenario.transports.includes(transport)) continue;
      test(scenario.name, async () => {
        const raw = transport === 'ws' ? await openWs(server.getPort()) : await openTcp(server.getTcpPort());
        open.push(raw);
        await runAgainstServer(raw, scenario, transport);
      });
    }
  });
}

// ---- the reference client -------------------------------------------------------------------

/** A fake server speaking raw packets to one StelarClient: `packets` gets what the client sends. */
async function fakeServer(transport) {
  const packets = [];
  const waiters = new Set();
  let closeCode = null;
  let sendBytes;
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const onPacket = (bytes) => {
    packets.push(decodePacket(bytes));
    wake();
  };
  let close;
  let address;
  if (transport === 'ws') {
    const wss = new WebSocketServer({ host: HOST, port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      sendBytes = (b) => ws.send(b, { binary: true });
      ws.on('message', (data, isBinary) => isBinary && onPacket(data));
      ws.on('close', (code) => {
        closeCode = code;
        wake();
      });
    });
    address = `ws://${HOST}:${wss.address().port}`;
    close = () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(resolve));
    };
  } else {
    const sockets = new Set();
    const srv = net.createServer((socket) => {
      sockets.add(socket);
      sendBytes = (b) => socket.write(Buffer.concat([u32(b.length + 4), b]));
      const parser = new TcpFrameParser({
        onFrame: (p) => {
          if (p[0] === PacketType.DISCONNECT) {
            closeCode = decodePacket(p).data.code;
            wake();
          } else onPacket(p);
        },
        onError: () => {},
      });
      socket.on('data', (d) => parser.push(d));
      socket.on('error', () => {});
      socket.on('end', () => socket.end());
    });
    await new Promise((resolve) => srv.listen(0, HOST, resolve));
    address = `${HOST}:${srv.address().port}`;
    close = () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => srv.close(resolve));
    };
  }
  const wait = (pred, what) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (v === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out: ${what}; got ${JSON.stringify(packets.map(toVector))}`));
      }, TIMEOUT);
      waiters.add(check);
      check();
    });
  return {
    address,
    close,
    send: (bytes) => sendBytes(bytes),
    next: (what) => wait(() => (packets.length ? packets.shift() : undefined), what),
    closed: (what) => wait(() => (closeCode === null ? undefined : closeCode), what),
    get pending() {
      return packets.length;
    },
  };
}

for (const transport of ['ws', 'tcp']) {
  describe(`the reference client, over ${transport}`, () => {
    for (const scenario of vectors.client.scenarios) {
      test(scenario.name, async () => {
        const fake = await fakeServer(transport);
        const client = new StelarClient(fake.address, { mode: transport, logger: false, reconnection: false });
        client.on('error', () => {});
        try {
          client.connect();
          const connect = await fake.next('the client Connect');
          assert.equal(connect.type, PacketType.CONNECT);
          fake.send(Buffer.from(encodePacket(vectors.client.connect)));
          for (const [i, step] of scenario.steps.entries()) {
            const at = `${transport}: ${scenario.name} (step ${i + 1})`;
            if (step.send !== undefined) fake.send(bytesOf(step.send));
            else if (step.expect !== undefined) assertMatches(await fake.next(at), step.expect, at);
            else if (step.expectClose !== undefined) {
              assert.equal(await fake.closed(at), step.expectClose, at);
              assert.equal(fake.pending, 0, `${at}: nothing before the close`);
            } else assert.fail(`${at}: unknown step`);
          }
        } finally {
          client.disconnect();
          await fake.close();
        }
      });
    }
  });
}
