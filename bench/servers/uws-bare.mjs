/**
 * The `uws-bare` target: the uWebSockets.js transport only, no decoding or parsing. As in
 * ws-bare.mjs, what it does with a message is set per scenario (`bare`): 'count', 'echo'
 * (the same bytes back) or 'room' (any message subscribes the sender to the one room, answered
 * 'joined'). Broadcast is app.publish, as in uws-app.
 */
import { loadUws } from '../lib/targets.mjs';
import { listenUws, uwsBehavior } from './uws-app.mjs';

const ROOM_TOPIC = 'room';

export async function start({ count, bare = 'count' }) {
  const uws = loadUws();
  let connections = 0;
  const message = {
    count: () => count(),
    echo: (ws, msg, isBinary) => ws.send(msg, isBinary),
    room: (ws) => {
      ws.subscribe(ROOM_TOPIC);
      ws.send('{"t":"joined"}', false);
    },
  }[bare];
  if (!message) throw new Error(`uws-bare: unknown mode ${bare}`);
  const app = uws.App();
  app.ws('/*', {
    ...uwsBehavior(uws),
    open() {
      connections++;
    },
    close() {
      connections--;
    },
    message,
  });
  return {
    ...(await listenUws(uws, app, () => connections)),
    roomSize: () => app.numSubscribers(ROOM_TOPIC),
    broadcast(_name, data) {
      app.publish(ROOM_TOPIC, JSON.stringify({ t: 'b', d: data }), false);
    },
  };
}
