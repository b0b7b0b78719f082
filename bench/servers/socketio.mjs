/**
 * The socket.io target, websocket transport only (no polling, no upgrade dance).
 * Events: 'join' (with an ack), 'echo' (ack returns the data), 'ev' (counted);
 * broadcast is io.to(room).emit, which encodes once per broadcast.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

export async function start({ count }) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
  io.on('connection', (socket) => {
    socket.on('ev', () => {
      count();
    });
    socket.on('echo', (data, ack) => ack(data));
    socket.on('join', (room, ack) => {
      socket.join(room);
      ack();
    });
  });
  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', resolve);
  });
  return {
    ports: { ws: http.address().port },
    connections: () => io.engine.clientsCount,
    roomSize: (name) => io.sockets.adapter.rooms.get(name)?.size ?? 0,
    broadcast(name, data) {
      io.to(name).emit('b', data);
    },
    close: () =>
      new Promise((resolve) => {
        io.close(() => resolve());
      }),
  };
}
