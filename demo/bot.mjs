// A Node service that joins the chat over the TCP transport, to show both transports in one room.
import { StelarClient } from '../dist/index.js';

export function startBot({ port = 3001, host = '127.0.0.1', room = 'general', name = 'tcp-bot' } = {}) {
  // The name goes with every connection (the server refuses clients without one), the room is
  // remembered by the client and joined again after each reconnection.
  const bot = new StelarClient(`${host}:${port}`, { mode: 'tcp', logger: 'warn', reconnectionDelay: 500, reconnectionAttempts: Infinity, auth: { name } });
  const say = (room, text) => bot.request('message', { room, text }).catch((err) => console.warn(`tcp-bot: not sent: ${err.message}`));
  bot.on('message', (msg) => {
    if (!msg || msg.from === name || typeof msg.text !== 'string') return;
    const text = msg.text.trim();
    if (text === '/time') say(msg.room, `It is ${new Date().toISOString()}`);
    else if (/\bbot\b/i.test(text)) say(msg.room, `Hi ${msg.from}, I am a TCP client in this room.`);
  });
  bot.joinRoom(room);
  bot.connect();
  return bot;
}
