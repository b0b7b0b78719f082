// Issue 12 item 9: /health returns counters to anyone unless `healthAuth` says who may read it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpRequest, startServer } from './helpers.mjs';

const TOKEN = 'Bearer s3cret';

test('healthAuth: only a true answer serves /health (sync and async); liveness and readiness stay open', async () => {
  const seen = [];
  const server = await startServer({
    healthAuth: (req) => {
      seen.push(req.url);
      return req.headers.authorization === TOKEN;
    },
  });
  try {
    const port = server.getPort();
    let res = await httpRequest(port, '/health');
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { status: 'error', message: 'unauthorized' });
    assert.equal(res.body.activeConnections, undefined, 'no counters without credentials');
    res = await httpRequest(port, '/health', { method: 'HEAD' });
    assert.equal(res.status, 401);
    res = await httpRequest(port, '/health?x=1', { headers: { authorization: TOKEN } });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
    assert.equal(typeof res.body.activeConnections, 'number');
    assert.deepEqual(seen, ['/health', '/health', '/health?x=1']);
    // Orchestrator probes carry no counters and are not asked about.
    assert.equal((await httpRequest(port, '/livez')).status, 200);
    assert.equal((await httpRequest(port, '/readyz')).status, 200);
    assert.equal(seen.length, 3);
    assert.equal(server.getConfig().hasHealthAuth, true);

    // Async answers, at runtime; a non-true answer (a truthy string) is a refusal.
    server.updateConfig({ healthAuth: async (req) => (req.headers.authorization === TOKEN ? true : 'yes') });
    assert.equal((await httpRequest(port, '/health')).status, 401);
    assert.equal((await httpRequest(port, '/health', { headers: { authorization: TOKEN } })).status, 200);

    // It guards a customHealthHandler too: refused requests never reach it.
    let handled = 0;
    server.updateConfig({
      customHealthHandler: (_req, res) => {
        handled++;
        res.end('custom');
      },
    });
    assert.equal((await httpRequest(port, '/health')).status, 401);
    assert.equal(handled, 0);
    assert.equal((await httpRequest(port, '/health', { headers: { authorization: TOKEN } })).body, 'custom');
    assert.equal(handled, 1);

    // A throw or a rejection answers 500, never the stats.
    server.updateConfig({
      customHealthHandler: null,
      healthAuth: () => {
        throw new Error('boom');
      },
    });
    res = await httpRequest(port, '/health', { headers: { authorization: TOKEN } });
    assert.equal(res.status, 500);
    assert.equal(res.body.activeConnections, undefined);
    server.updateConfig({ healthAuth: () => Promise.reject(new Error('boom')) });
    assert.equal((await httpRequest(port, '/health', { headers: { authorization: TOKEN } })).status, 500);

    // null removes it: open again (the default, as the spec has it).
    server.updateConfig({ healthAuth: null });
    assert.equal((await httpRequest(port, '/health')).status, 200);
    assert.equal(server.getConfig().hasHealthAuth, false);
    assert.throws(() => server.updateConfig({ healthAuth: 'yes' }), TypeError);
  } finally {
    await server.stop();
  }
});
