// A browser application's use of the client: compiled by types.test.mjs with lib DOM, no Node
// types (`types: []`) and the `browser` condition, as a bundler resolves the package.
import { type ClientError, StelarClient as Main } from 'stelar-time-real';
import { StelarClient as FromClient } from 'stelar-time-real/client';
import { ErrorCode, isStelarError, StelarClient, StelarError } from 'stelar-time-real/browser';

const client = new StelarClient<{ chat: { text: string } }, { chat: { text: string } }>('/socket');
client.on('chat', (msg) => {
  const li = document.createElement('li');
  li.textContent = msg.text;
  document.body.append(li);
});
client.on('error', (err: ClientError) => {
  if (isStelarError(err) && err.code === ErrorCode.CONNECTION_CLOSED) console.warn(err.closeCode);
});
client.on('error', (err) => err.code);
await new Promise((resolve) => client.connect(resolve));
client.emit('chat', { text: 'hi from the browser' });

const input = document.querySelector('input[type=file]') as HTMLInputElement;
const file = input.files?.[0];
if (file) await client.sendFile(file);
client.emitBinary('chat', new Uint8Array([1, 2, 3]));

// Under the browser condition the main entry and ./client are the browser build.
const same: typeof StelarClient = Main;
const alsoSame: typeof StelarClient = FromClient;
void [same, alsoSame, new StelarError(ErrorCode.ACK_TIMEOUT, 'late')];
client.disconnect();
