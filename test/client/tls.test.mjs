// TLS: wss:// and TCP+TLS against a server with a self-signed certificate (made with openssl).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, next, selfSignedCert, startServer, StelarClient } from './helpers/server.mjs';

let srv;
let cert;
before(async () => {
  cert = selfSignedCert();
  srv = await startServer({ tls: cert });
  srv.server.onAck('secure', (ctx) => ({ protocol: ctx.clientInfo.protocol, got: ctx.data }));
  srv.server.on('bin', (ctx) => ctx.emitBinary('bin', ctx.data));
});
after(() => srv.server.stop());

for (const [name, url, options] of [
  ['wss:// url', () => `wss://127.0.0.1:${srv.port}`, {}],
  ["'host:port' + tls: true (ws)", () => `127.0.0.1:${srv.port}`, { tls: true }],
  ['tcp + tls: true', () => `127.0.0.1:${srv.tcpPort}`, { mode: 'tcp', tls: true }],
  ['tcps:// url', () => `tcps://127.0.0.1:${srv.tcpPort}`, { mode: 'tcp' }],
]) {
  test(`${name}: rejectUnauthorized false connects; request and binary work`, async () => {
    const client = await connectClient(url(), { ...options, rejectUnauthorized: false });
    assert.match(client.getUrl(), /^(wss|tcps):\/\//);
    assert.deepEqual(await client.request('secure', 42, 'secure'), { protocol: options.mode ?? 'ws', got: 42 });
    const echo = next(client, 'bin');
    client.emitBinary('bin', Buffer.from('tls bytes'));
    assert.equal((await echo)[0].toString(), 'tls bytes');
    client.disconnect();
  });
}

for (const mode of ['ws', 'tcp']) {
  test(`${mode}: a self-signed certificate is refused by default, accepted with tls.ca`, async () => {
    const port = mode === 'tcp' ? srv.tcpPort : srv.port;
    const strict = new StelarClient(`localhost:${port}`, { mode, tls: true, reconnection: false, logger: 'silent' });
    const err = next(strict, 'error');
    strict.connect();
    const [e] = await err;
    assert.match(e.message, /self[- ]signed|certificate/i);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(strict.getState(), 'disconnected');
    const trusted = await connectClient(`localhost:${port}`, { mode, tls: { ca: cert.cert } });
    assert.equal(trusted.isConnected(), true);
    trusted.disconnect();
  });
}
