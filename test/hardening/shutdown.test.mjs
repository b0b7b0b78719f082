// Graceful shutdown under load, with a real signal to a real server process. The claims:
// every request the server acknowledged was handled (counted on the server side), clients
// are told 1001 (WebSocket close frame / TCP Disconnect), and the process ends within
// shutdownTimeout with the status the signal asks for (or as the application decides).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { guard, PacketType, rawTcp, rawWs, shutdownServerProcess as serverProcess, until } from './helpers.mjs';

/** Keeps `depth` ACK requests in flight on `peer` until it closes; returns the acked keys. */
function load(peer, name, depth = 8) {
  const acked = [];
  let n = 0;
  const next = () => {
    if (peer.socket.destroyed || peer.closeSeen) return;
    const key = `${name}-${n++}`;
    peer.send({ type: PacketType.ACK_REQUEST, event: 'work', ackId: n, data: { key } });
  };
  peer.onPacket = (p) => {
    if (p.type !== PacketType.ACK_RESPONSE) return false;
    if (p.ok) acked.push(p.data.key);
    next();
    return true;
  };
  for (let i = 0; i < depth; i++) next();
  return acked;
}

/** A well-behaved peer answers the close (WS close frame echoed, TCP FIN). */
async function closeLikeAClient(peer) {
  const code = await peer.closeCode(15_000);
  peer.closeSeen = true;
  await peer.finishClose();
  return code;
}

describe('graceful shutdown', { concurrency: true }, () => {
  test('SIGTERM under load: every acknowledged request was handled, clients get 1001, the process ends by the signal', async () => {
    const shutdownTimeout = 4000;
    const srv = await serverProcess({ shutdownTimeout, otherServer: true });
    const peers = [];
    for (let i = 0; i < 10; i++) peers.push(i % 2 ? await rawTcp(srv.tcpPort) : await rawWs(srv.port));
    await Promise.all(peers.map((p) => p.connect()));
    const acked = peers.map((p, i) => load(p, `c${i}`));
    // Traffic flows on every connection, then the signal arrives mid-stream.
    await until(() => acked.every((a) => a.length >= 20), 'traffic on every client');
    const closes = peers.map((p) => closeLikeAClient(p));
    const killedAt = Date.now();
    srv.child.kill('SIGTERM');
    const codes = await Promise.all(closes);
    const exit = await guard(srv.exited, 'process exit', shutdownTimeout + 10_000);

    assert.deepEqual(
      codes,
      peers.map(() => 1001),
    );
    // The process had another listening server: it ended because the signal was re-raised.
    assert.deepEqual([exit.code, exit.signal], [null, 'SIGTERM']);
    assert.ok(exit.at - killedAt < shutdownTimeout, `exited ${exit.at - killedAt} ms after SIGTERM (shutdownTimeout ${shutdownTimeout})`);
    const report = srv.lines.find((l) => l.type === 'shutdown');
    assert.equal(report.signal, 'SIGTERM');
    const handled = new Set(report.handled);
    const all = acked.flat();
    const lost = all.filter((k) => !handled.has(k));
    assert.deepEqual(lost, [], 'acknowledged but not handled');
    assert.equal(handled.size, report.handled.length, 'nothing handled twice');
    console.log(
      `shutdown under load: ${all.length} requests acknowledged, ${handled.size} handled, ${handled.size - all.length} handled but unanswered (in flight at the close), exit ${exit.at - killedAt} ms after SIGTERM`,
    );
  });

  test('a client that never answers the close: the process still ends within shutdownTimeout', async () => {
    const shutdownTimeout = 2500;
    const srv = await serverProcess({ shutdownTimeout });
    const stuck = await rawWs(srv.port); // reads, but never answers the close frame nor ends TCP
    const stuckTcp = await rawTcp(srv.tcpPort, { allowHalfOpen: true }); // never sends its FIN
    await stuck.connect();
    await stuckTcp.connect();
    const killedAt = Date.now();
    srv.child.kill('SIGTERM');
    assert.equal(await stuck.closeCode(), 1001);
    assert.equal(await stuckTcp.closeCode(), 1001);
    const exit = await guard(srv.exited, 'process exit', shutdownTimeout + 10_000);
    const took = exit.at - killedAt;
    assert.equal(exit.signal, 'SIGTERM');
    // It waited for the clients (most of the budget), and not past it.
    assert.ok(took >= shutdownTimeout * 0.7, `exited after ${took} ms: did not wait for the clients`);
    assert.ok(took < shutdownTimeout + 1000, `exited after ${took} ms (shutdownTimeout ${shutdownTimeout})`);
    await stuck.whenClosed();
    await stuckTcp.waitUntil(() => stuckTcp.ended, 'FIN from the ended process');
    await stuckTcp.destroy();
  });

  test('a second SIGTERM during the shutdown ends the process at once', async () => {
    const srv = await serverProcess({ shutdownTimeout: 30_000 });
    const stuck = await rawTcp(srv.tcpPort, { allowHalfOpen: true });
    await stuck.connect();
    const killedAt = Date.now();
    srv.child.kill('SIGTERM');
    assert.equal(await stuck.closeCode(), 1001); // the shutdown is under way
    srv.child.kill('SIGTERM');
    const exit = await guard(srv.exited, 'process exit', 15_000);
    assert.equal(exit.signal, 'SIGTERM');
    assert.ok(exit.at - killedAt < 15_000);
    assert.equal(
      srv.lines.some((l) => l.type === 'shutdown'),
      false,
      'forced before the shutdown finished',
    );
    await stuck.destroy();
  });

  test('SIGINT is handled the same way and ends the process with SIGINT', async () => {
    const srv = await serverProcess({ otherServer: true });
    const ws = await rawWs(srv.port);
    await ws.connect();
    const closed = closeLikeAClient(ws);
    srv.child.kill('SIGINT');
    assert.equal(await closed, 1001);
    const exit = await guard(srv.exited, 'process exit');
    assert.deepEqual([exit.code, exit.signal], [null, 'SIGINT']);
    assert.equal(srv.lines.find((l) => l.type === 'shutdown').signal, 'SIGINT');
  });

  test('an application with its own SIGTERM listener decides the exit (here: status 7 from onShutdown)', async () => {
    const srv = await serverProcess({ appListener: true, otherServer: true });
    const tcp = await rawTcp(srv.tcpPort);
    await tcp.connect();
    const closed = closeLikeAClient(tcp);
    srv.child.kill('SIGTERM');
    assert.equal(await closed, 1001);
    const exit = await guard(srv.exited, 'process exit');
    assert.deepEqual([exit.code, exit.signal], [7, null]);
    assert.deepEqual(
      srv.lines.map((l) => l.type),
      ['ready', 'app-listener', 'shutdown'],
    );
  });

  test('gracefulShutdown: false leaves SIGTERM alone: the process dies at once, clients see the connection drop', async () => {
    const srv = await serverProcess({ gracefulShutdown: false });
    const tcp = await rawTcp(srv.tcpPort);
    await tcp.connect();
    srv.child.kill('SIGTERM');
    const exit = await guard(srv.exited, 'process exit');
    assert.equal(exit.signal, 'SIGTERM');
    await tcp.whenClosed();
    assert.equal(tcp.disconnect, null, 'no Disconnect packet');
    assert.equal(
      srv.lines.some((l) => l.type === 'shutdown'),
      false,
    );
  });
});
