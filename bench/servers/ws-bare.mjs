/**
 * The `ws-bare` target: the `ws` transport only, no parsing. It never looks inside a
 * message, so what it does with one is set per scenario (`bare`, from the scenario's
 * serverOptions): 'count' (throughput: count it), 'echo' (send the same bytes back),
 * 'room' (broadcast: any message puts the sender in the one room and is answered 'joined').
 * Same client and bytes as ws-app; the difference between the two rows is the app's
 * JSON.parse and dispatch.
 */
import { WebSocketServer } from 'ws';

export async function start({ count, bare = 'count' }) {
  const room = new Set();
  const onMessage = {
    count: () => count(),
    echo: (ws, buf, isBinary) => ws.send(buf, { binary: isBinary }),
    room: (ws) => {
      room.add(ws);
      ws.send('{"t":"joined"}');
    },
  }[bare];
  if (!onMessage) throw new Error(`ws-bare: unknown mode ${bare}`);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: true });
  wss.on('connection', (ws) => {
    ws.on('message', (buf, isBinary) => onMessage(ws, buf, isBinary));
    ws.on('close', () => room.delete(ws));
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  return {
    ports: { ws: wss.address().port },
    connections: () => wss.clients.size,
    roomSize: () => room.size,
    broadcast(_name, data) {
      const text = JSON.stringify({ t: 'b', d: data });
      for (const ws of room) ws.send(text);
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
