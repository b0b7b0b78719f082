/**
 * The `ws` target: an idiomatic app on `ws` with a small JSON envelope
 * `{ t, ... }`: 'join' (room membership in a Set), 'echo' (reply with the same id and data),
 * 'ev' (counted). Broadcast stringifies once and calls send() per member, as ws documents.
 */
import { WebSocketServer } from 'ws';

export async function start({ count }) {
  const rooms = new Map();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: true });
  wss.on('connection', (ws) => {
    ws.on('message', (buf) => {
      const msg = JSON.parse(buf);
      switch (msg.t) {
        case 'ev':
          count();
          break;
        case 'echo':
          ws.send(JSON.stringify({ t: 'echo', id: msg.id, d: msg.d }));
          break;
        case 'join': {
          let room = rooms.get(msg.room);
          if (!room) rooms.set(msg.room, (room = new Set()));
          room.add(ws);
          ws.send('{"t":"joined"}');
          break;
        }
      }
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
