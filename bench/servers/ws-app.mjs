/**
 * The `ws-app` target: an app on `ws` as one would write it. Every message is parsed
 * (`JSON.parse`) and dispatched by its event name `t` through a handler map: 'join' (room
 * membership in a Set, confirmed with 'joined'), 'echo' (reply with the same id and data),
 * 'ev' (counted). Broadcast stringifies once and calls send() per member, as ws documents.
 * The transport-only counterpart is ws-bare.mjs.
 */
import { WebSocketServer } from 'ws';

export async function start({ count }) {
  const rooms = new Map();
  const handlers = new Map([
    ['ev', () => count()],
    ['echo', (ws, msg) => ws.send(JSON.stringify({ t: 'echo', id: msg.id, d: msg.d }))],
    [
      'join',
      (ws, msg) => {
        let room = rooms.get(msg.room);
        if (!room) rooms.set(msg.room, (room = new Set()));
        room.add(ws);
        ws.send('{"t":"joined"}');
      },
    ],
  ]);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: true });
  wss.on('connection', (ws) => {
    ws.on('message', (buf) => {
      const msg = JSON.parse(buf.toString());
      handlers.get(msg.t)?.(ws, msg);
    });
    ws.on('close', () => {
      for (const room of rooms.values()) room.delete(ws);
    });
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  return {
    ports: { ws: wss.address().port },
    connections: () => wss.clients.size,
    roomSize: (name) => rooms.get(name)?.size ?? 0,
    broadcast(name, data) {
      const room = rooms.get(name);
      if (!room) return;
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
