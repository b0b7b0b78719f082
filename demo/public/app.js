// The demo page: plain DOM code on top of the browser bundle of StelarClient.
import { StelarClient } from '/stelar-client.mjs';

const $ = (id) => document.getElementById(id);
const state = { name: '', rooms: new Set(['general']), current: 'general', typingTimer: 0 };
const messagesByRoom = new Map();

const client = new StelarClient(location.port ? Number(location.port) : location.host, {
  reconnectionDelay: 500,
  maxReconnectionDelay: 5000,
  hooks: {
    // The badge in the header follows the client's own state machine.
    onStateChange: ({ to }) => {
      $('state').textContent = to;
      $('state').dataset.state = to;
    },
  },
});
window.stelarClient = client; // handy in devtools, and used by the end-to-end test

client.on('connect', async () => {
  client.emit('hello', { name: state.name, rooms: [...state.rooms] });
  await loadHistory(state.current);
});
client.on('message', (msg) => addEntry(msg.room, renderText(msg)));
client.on('presence', ({ room, members }) => {
  if (room === state.current) renderOnline(members);
});
client.on('typing', ({ room, from }) => {
  if (room !== state.current) return;
  $('typing').textContent = `${from} is typing…`;
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(() => ($('typing').textContent = ''), 1500);
});
client.on('notice', ({ text }) => addEntry(state.current, renderNotice(text)));

let pendingFile = null;
client.on('file-meta', (meta) => (pendingFile = meta));
client.on('file', (bytes) => {
  const meta = pendingFile;
  pendingFile = null;
  if (!meta) return;
  addEntry(meta.room, renderFile(meta, bytes));
});

async function loadHistory(room) {
  try {
    const { messages } = await client.request('history', { room }, 'history');
    messagesByRoom.set(room, messages.map(renderText));
    if (room === state.current) renderMessages();
  } catch (err) {
    addEntry(room, renderNotice(`history unavailable: ${err.message}`));
  }
}

function addEntry(room, node) {
  if (!messagesByRoom.has(room)) messagesByRoom.set(room, []);
  messagesByRoom.get(room).push(node);
  if (room === state.current) {
    $('messages').append(node);
    node.scrollIntoView({ block: 'end' });
  }
}

function renderText(msg) {
  const li = document.createElement('li');
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = msg.from;
  li.append(from, document.createTextNode(msg.text));
  return li;
}

function renderNotice(text) {
  const li = document.createElement('li');
  li.className = 'notice';
  li.textContent = text;
  return li;
}

function renderFile(meta, bytes) {
  const li = document.createElement('li');
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = meta.from;
  const url = URL.createObjectURL(new Blob([bytes], { type: meta.type || 'application/octet-stream' }));
  li.append(from);
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
  $('messages').replaceChildren(...(messagesByRoom.get(state.current) ?? []));
}

function renderOnline(members) {
  $('online').replaceChildren(
    ...members.map((m) => {
      const li = document.createElement('li');
      li.textContent = m.name;
      return li;
    }),
  );
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
  $('online').replaceChildren();
  client.emit('join', { room }); // re-joining is harmless and refreshes the online list
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  state.name = $('name').value.trim() || 'anonymous';
  $('login').hidden = true;
  $('chat').hidden = false;
  renderRooms();
  client.connect();
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const room = $('join-room').value.trim();
  $('join-room').value = '';
  state.rooms.add(room);
  switchRoom(room);
  await loadHistory(room);
});

$('leave').addEventListener('click', () => {
  if (state.rooms.size <= 1) return;
  client.emit('leave', { room: state.current });
  state.rooms.delete(state.current);
  switchRoom([...state.rooms][0]);
});

$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  client.emit('message', { room: state.current, text });
  $('text').value = '';
});

$('text').addEventListener('input', () => client.emit('typing', { room: state.current }));

$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  client.emit('file-meta', { room: state.current, name: file.name, type: file.type });
  client.emitBinary('file', new Uint8Array(await file.arrayBuffer()));
  $('file').value = '';
});
