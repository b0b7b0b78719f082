// The demo page: plain DOM code on top of the browser bundle of StelarClient.
import { StelarClient } from '/stelar-client.mjs';

const $ = (id) => document.getElementById(id);
const ROOM_RE = /^[\w-]{1,32}$/; // the server's rule; it checks again
const FILE_MAX = 8 * 1024 * 1024; // the server's limit for one file
const SEND_TIMEOUT = 60_000; // how long a line may wait (offline included) before it is marked "not sent"

const state = { name: '', rooms: new Set(['general']), current: 'general', lastTyping: 0, lastRateNotice: 0, stopped: false };
/** room -> { entries: [{ key, ts, node }], keys: Set<message id> }: what the page shows, kept across reconnections. */
const logs = new Map();
/** cid -> { room, entry, payload } for lines the server has not confirmed yet. */
const pending = new Map();
/** room -> Map(name -> timer) of who is typing. */
const typers = new Map();
/** room -> last members list the server sent. */
const presence = new Map();

// '/' is this page's own host and port (wss on an https page), whatever name the page was opened with.
const client = new StelarClient('/', {
  auth: () => ({ name: state.name }), // sent with every connection: queued lines can never arrive from nobody
  recovery: true, // a short outage resumes the session and replays what was missed
  reconnectionDelay: 500,
  maxReconnectionDelay: 5000,
  reconnectionAttempts: Number.POSITIVE_INFINITY, // a chat tab waits for its server as long as it is open
  hooks: {
    // The badge in the header follows the client's own state machine.
    onStateChange: ({ to }) => {
      $('state').textContent = to;
      $('state').dataset.state = to;
    },
  },
});
window.stelarClient = client; // handy in devtools, and used by the end-to-end tests

client.on('connect', async ({ recovered }) => {
  if (recovered) return; // same session: the server already replayed what this page missed
  // A new session (first connection, or the server restarted): join every room again and merge its
  // stored history into what the page shows. Nothing is cleared.
  await Promise.all([...state.rooms].map(joinAndLoad));
});

client.on('message', (msg) => {
  stopTyping(msg.room, msg.from);
  addMessage(msg);
});

client.on('presence', ({ room, members }) => {
  presence.set(room, members);
  if (room === state.current) renderOnline();
});

client.on('typing', ({ room, from }) => {
  if (!typers.has(room)) typers.set(room, new Map());
  const names = typers.get(room);
  clearTimeout(names.get(from));
  names.set(
    from,
    setTimeout(() => stopTyping(room, from), 3000),
  );
  renderTyping();
});

client.on('notice', ({ text }) => addNotice(state.current, text));

client.on('error', (err) => {
  if (err.code === 'STELAR_ERR_MIDDLEWARE_REJECTED') backToLogin(`The server refused you: ${err.message}`);
  else if (err.code === 'STELAR_ERR_RATE_LIMITED') rateLimitNotice();
  else if (/ROOM/.test(err.code ?? '')) addNotice(state.current, `Room refused: ${err.message}`);
  else if (err.code === 'STELAR_ERR_PAYLOAD_TOO_LARGE') addNotice(state.current, `Not sent, too large: ${err.message}`);
});

let pendingFile = null;
client.on('file-meta', (meta) => (pendingFile = meta));
client.on('file', (bytes) => {
  const meta = pendingFile;
  pendingFile = null;
  if (!meta) return;
  insert(meta.room, { key: null, ts: meta.ts ?? Date.now(), node: renderFile(meta, bytes) });
});

async function joinAndLoad(room) {
  try {
    const { messages } = await client.request('join', { room });
    messages.forEach(addMessage);
  } catch (err) {
    addNotice(room, `could not join ${room}: ${err.message}`);
  }
}

// ---- the message log of each room ----

function logOf(room) {
  if (!logs.has(room)) logs.set(room, { entries: [], keys: new Set() });
  return logs.get(room);
}

/** Puts an entry in time order (nearly always last) and on screen when its room is shown. */
function insert(room, entry) {
  const { entries } = logOf(room);
  let i = entries.length;
  while (i > 0 && entries[i - 1].ts > entry.ts) i--;
  entries.splice(i, 0, entry);
  if (room !== state.current) return;
  $('messages').insertBefore(entry.node, entries[i + 1]?.node ?? null);
  if (i === entries.length - 1) entry.node.scrollIntoView({ block: 'end' });
}

/** A message from the server (live, replayed or from history), shown once whatever the path. */
function addMessage(msg) {
  const log = logOf(msg.room);
  if (log.keys.has(msg.id)) return;
  if (msg.cid && pending.has(msg.cid) && msg.from === state.name) return confirm(msg);
  log.keys.add(msg.id);
  insert(msg.room, { key: msg.id, ts: msg.ts, node: renderText(msg) });
}

function addNotice(room, text) {
  const li = document.createElement('li');
  li.className = 'notice';
  li.textContent = text;
  insert(room, { key: null, ts: Date.now(), node: li });
}

function rateLimitNotice() {
  if (Date.now() - state.lastRateNotice < 3000) return; // one notice per burst
  state.lastRateNotice = Date.now();
  addNotice(state.current, 'Slow down: the server refuses messages sent this fast (rate limit).');
}

// ---- sending: a line shows at once as "pending" and turns final with the server's answer ----

function send(room, text) {
  const cid = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const node = renderText({ from: state.name, text, ts: Date.now() });
  const entry = { key: null, ts: Number.POSITIVE_INFINITY, node }; // stays below everything until confirmed
  const payload = { room, text, cid };
  pending.set(cid, { room, entry, payload });
  insert(room, entry);
  deliver(cid);
}

function deliver(cid) {
  const item = pending.get(cid);
  if (!item) return;
  setStatus(item.entry.node, 'pending', 'sending…');
  client.request('message', item.payload, 'message', { timeout: SEND_TIMEOUT }).then(confirm, (err) => {
    if (!pending.has(cid)) return; // confirmed meanwhile (the history of a new session had it)
    // The connection dropped before the answer came: send again. The server knows the cid and
    // answers with the message it already posted instead of posting it twice.
    if (err.code === 'STELAR_ERR_CONNECTION_CLOSED' && !state.stopped) return deliver(cid);
    const why = err.code === 'STELAR_ERR_RATE_LIMITED' ? 'too fast (rate limit)' : err.message;
    if (err.code === 'STELAR_ERR_RATE_LIMITED') rateLimitNotice();
    setStatus(item.entry.node, 'failed', `not sent: ${why}`, () => deliver(cid));
  });
}

/** The server's copy of one of our lines: the pending line becomes that message. */
function confirm(msg) {
  const item = pending.get(msg.cid);
  if (!item) return addMessage(msg);
  pending.delete(msg.cid);
  const log = logOf(msg.room);
  if (log.keys.has(msg.id)) return item.entry.node.remove();
  log.keys.add(msg.id);
  item.entry.key = msg.id;
  item.entry.ts = msg.ts;
  const fresh = renderText(msg);
  item.entry.node.replaceWith(fresh);
  item.entry.node = fresh;
}

function setStatus(node, kind, text, retry) {
  node.classList.remove('pending', 'failed');
  node.classList.add(kind);
  node.querySelector('.status')?.remove();
  const status = document.createElement('span');
  status.className = 'status';
  status.textContent = text;
  if (retry) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'retry';
    button.onclick = retry;
    status.append(' ', button);
  }
  node.append(status);
}

// ---- rendering ----

function timeOf(ts) {
  const t = document.createElement('time');
  const date = new Date(ts);
  t.dateTime = date.toISOString();
  t.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return t;
}

function fromOf(name) {
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = name;
  return from;
}

function renderText(msg) {
  const li = document.createElement('li');
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = msg.text;
  li.append(timeOf(msg.ts), fromOf(msg.from), text);
  return li;
}

function renderFile(meta, bytes) {
  const li = document.createElement('li');
  const url = URL.createObjectURL(new Blob([bytes], { type: meta.type || 'application/octet-stream' }));
  li.append(timeOf(meta.ts ?? Date.now()), fromOf(meta.from));
  if (meta.type?.startsWith('image/')) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = meta.name;
    li.append(img);
  } else {
    const a = document.createElement('a');
    a.href = url;
    a.download = meta.name;
    a.textContent = `${meta.name} (${bytes.byteLength} bytes)`;
    li.append(a);
  }
  li.dataset.file = meta.name;
  return li;
}

function renderMessages() {
  $('messages').replaceChildren(...logOf(state.current).entries.map((e) => e.node));
  $('messages').lastElementChild?.scrollIntoView({ block: 'end' });
}

function renderOnline() {
  $('online').replaceChildren(
    ...(presence.get(state.current) ?? []).map((m) => {
      const li = document.createElement('li');
      li.textContent = m.name;
      return li;
    }),
  );
}

function stopTyping(room, from) {
  const names = typers.get(room);
  if (!names?.has(from)) return;
  clearTimeout(names.get(from));
  names.delete(from);
  renderTyping();
}

function renderTyping() {
  const names = [...(typers.get(state.current)?.keys() ?? [])];
  $('typing').textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
}

function renderRooms() {
  $('current-room-label').textContent = state.current;
  $('rooms').replaceChildren(
    ...[...state.rooms].map((room) => {
      const li = document.createElement('li');
      li.textContent = `# ${room}`;
      li.className = room === state.current ? 'active' : '';
      li.onclick = () => switchRoom(room);
      return li;
    }),
  );
}

function switchRoom(room) {
  state.current = room;
  renderRooms();
  renderMessages();
  renderOnline();
  renderTyping();
}

function backToLogin(text) {
  state.stopped = true;
  client.disconnect();
  $('chat').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = text;
}

// ---- forms ----

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('name').value.trim();
  if (!name) {
    $('login-error').textContent = 'Please enter a name (spaces alone are not one).';
    return;
  }
  $('login-error').textContent = '';
  state.name = name;
  state.stopped = false;
  $('login').hidden = true;
  $('chat').hidden = false;
  switchRoom(state.current);
  client.connect();
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const room = $('join-room').value.trim();
  $('join-error').textContent = '';
  if (!ROOM_RE.test(room)) {
    $('join-error').textContent = 'Room names are 1-32 letters, digits, - or _.';
    return;
  }
  try {
    const { messages } = await client.request('join', { room });
    $('join-room').value = '';
    state.rooms.add(room);
    messages.forEach(addMessage);
    switchRoom(room);
  } catch (err) {
    $('join-error').textContent = `Cannot join ${room}: ${err.message}`;
  }
});

$('leave').addEventListener('click', async () => {
  if (state.rooms.size <= 1) return;
  const room = state.current;
  state.rooms.delete(room);
  switchRoom([...state.rooms][0]);
  await client.request('leave', { room }).catch(() => {}); // not in it any more either way
});

$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  send(state.current, text);
  $('text').value = '';
});

// At most one "typing" a second, and none while offline (a stale one is worse than none).
$('text').addEventListener('input', () => {
  if (!client.isConnected() || Date.now() - state.lastTyping < 1000) return;
  state.lastTyping = Date.now();
  client.emit('typing', { room: state.current });
});

$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  $('file').value = '';
  if (!file) return;
  if (file.size > FILE_MAX) {
    addNotice(state.current, `${file.name} is too large to share (8 MiB at most).`);
    return;
  }
  client.emit('file-meta', { room: state.current, name: file.name, type: file.type });
  client.emitBinary('file', new Uint8Array(await file.arrayBuffer()));
});
