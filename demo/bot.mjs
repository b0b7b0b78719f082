// A Node service that joins the chat over the TCP transport, to show both transports in one room.
import { StelarClient } from '../dist/index.js';

export function startBot({ port = 3001, host = '127.0.0.1', room = 'general', name = 'tcp-bot' } = {}) {
  const bot = new StelarClient(`${host}:${port}`, { mode: 'tcp', logger: 'warn', reconnectionDelay: 500 });
  bot.on('connect', () => bot.emit('hello', { name, rooms: [room] }));
  bot.on('message', (msg) => {
    if (!msg || msg.from === name || typeof msg.text !== 'string') return;
    const text = msg.text.trim();
    if (text === '/time') bot.emit('message', { room: msg.room, text: `It is ${new Date().toISOString()}` });
    else if (/\bbot\b/i.test(text)) bot.emit('message', { room: msg.room, text: `Hi ${msg.from}, I am a TCP client in this room.` });
  });
  bot.connect();
  return bot;
}
