// `npm start`: the demo chat. One process: web page + WebSocket on PORT (3000), TCP on TCP_PORT (3001),
// /health, and a bot connected over TCP.
import http from 'node:http';
import { createChatService } from './chat-service.mjs';
import { serveStatic } from './static.mjs';
import { startBot } from './bot.mjs';

const port = Number(process.env.PORT ?? 3000);
const tcpPort = Number(process.env.TCP_PORT ?? 3001);

const server = http.createServer(serveStatic);
const stelar = createChatService({ server, tcpPort });

server.listen(port, async () => {
  await stelar.start();
  const bot = startBot({ port: tcpPort });
  console.log(`stelar demo chat: http://localhost:${port}  (TCP on ${tcpPort}, health at /health)`);
  const shutdown = async () => {
    bot.disconnect();
    await stelar.stop();
    server.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
});
