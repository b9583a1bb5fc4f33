// Switchboard demo chat. Plain ES module, no dependencies.
// Message data shapes published to the room:
//   {kind:"hello",  name, cid[, reply:true]}  announce the display name (cid finds our own user id)
//   {kind:"chat",   name, text}
//   {kind:"typing", name}

const ROOM_RE = /^[A-Za-z0-9:_\-.@/]{1,200}$/;
const REQUEST_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 25000;
const TYPING_SEND_MS = 2000;
const TYPING_EXPIRE_MS = 4000;
const MAX_LINES = 500;

const $ = (id) => document.getElementById(id);
const ui = {
  conn: $('conn'), join: $('join'), name: $('name'), room: $('room'), leave: $('leave-btn'),
  people: $('people'), peopleToggle: $('people-toggle'), count: $('people-count'), presence: $('presence'),
  messages: $('messages'), typing: $('typing'), composer: $('composer'), msg: $('msg'), send: $('send'),
  toast: $('toast'),
};

const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* storage unavailable */ } },
};

let ws = null, nextId = 1;
const pending = new Map();  // request id -> {resolve, timer}
let attempt = 0, retryTimer = 0, countdownTimer = 0, pingTimer = 0;
let room = null;            // the room the person wants to be in
let subscribed = false;     // subscribed to `room` on the current socket
let myName = '';
let selfId = null;          // our user id, learned from the echo of our hello
let cid = '';               // random per connection, carried in our hellos
const names = new Map();    // user id -> display name
const online = new Map();   // user id -> {info, conns}
const typers = new Map();   // user id -> expiry timer
let lastTypingSent = 0, helloReplyTimer = 0, toastTimer = 0;

const cleanName = (v) => (typeof v === 'string' ? v.replace(/\s+/g, ' ').trim().slice(0, 32) : '');
const shortId = (u) => (typeof u !== 'string' ? '?' : u.startsWith('anon-') ? u.slice(0, 9) : u.slice(0, 12));
const displayName = (u) => names.get(u) || shortId(u);
const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
}

const who = (user) => h('span', { class: 'who', 'data-user': user, text: displayName(user) });

const setConn = (state, text) => { ui.conn.dataset.state = state; ui.conn.textContent = text; };

function showError(err, prefix = '') {
  const code = err?.code || 'error';
  const text = err?.message ? `${err.message} (${code})` : code;
  ui.toast.textContent = prefix ? `${prefix}: ${text}` : text;
  ui.toast.dataset.code = code;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 4000);
}

function connect() {
  clearTimeout(retryTimer); clearInterval(countdownTimer);
  retryTimer = countdownTimer = 0;
  setConn('connecting', 'Connecting…');
  let sock;
  try {
    sock = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`);
  } catch { scheduleReconnect(); return; }
  ws = sock;
  sock.onopen = () => {
    if (sock !== ws) return;
    attempt = 0;
    cid = randomHex();
    setConn('connected', 'Connected');
    pingTimer = setInterval(() => {
      request('ping').then((rep) => { if (rep.error?.code === 'timeout') lost(sock); });
    }, PING_EVERY_MS);
    if (room) subscribe();
  };
  sock.onmessage = (e) => { if (sock === ws) onFrame(e.data); };
  sock.onclose = () => lost(sock);
  sock.onerror = () => { /* a close event follows */ };
}

function lost(sock) {
  if (sock !== ws) return;
  ws = null;
  try { sock.close(); } catch { /* already closed */ }
  clearInterval(pingTimer);
  for (const [id, p] of pending) { clearTimeout(p.timer); p.resolve({ id, error: { code: 'disconnected' } }); }
  pending.clear();
  if (subscribed) addSystem('Connection lost');
  subscribed = false;
  selfId = null;
  resetRoomState();
  updateComposer();
  scheduleReconnect();
}

function scheduleReconnect() {
  // Exponential backoff with jitter: 0.5 s … 10 s.
  const base = Math.min(10000, 500 * 2 ** attempt);
  const delay = Math.max(500, base * (0.5 + Math.random() * 0.5));
  attempt++;
  const until = Date.now() + delay;
  const tick = () => setConn('reconnecting', `Reconnecting in ${Math.max(1, Math.ceil((until - Date.now()) / 1000))} s…`);
  tick();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 250);
  retryTimer = setTimeout(connect, delay);
}

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(obj));
  return true;
}

// Resolves with the reply (ok or error); never rejects.
function request(op, fields = {}) {
  const id = nextId++;
  if (!send({ op, id, ...fields })) {
    return Promise.resolve({ id, error: { code: 'disconnected', message: 'Not connected' } });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve({ id, error: { code: 'timeout', message: 'No reply from the server' } });
    }, REQUEST_TIMEOUT_MS);
    pending.set(id, { resolve, timer });
  });
}

function onFrame(text) {
  let m;
  try { m = JSON.parse(text); } catch { return; }
  if (!m || typeof m !== 'object') return;
  if (m.id != null && pending.has(m.id)) {
    const p = pending.get(m.id);
    pending.delete(m.id);
    clearTimeout(p.timer);
    p.resolve(m);
    return;
  }
  if (m.error) { showError(m.error); return; }
  if (!room || m.room !== room) return;
  if (m.type === 'message') onMessage(m.from, m.data);
  else if (m.type === 'join') onJoin(m.user, m.info);
  else if (m.type === 'leave') onLeave(m.user);
}

function subscribe() {
  const r = room, sock = ws;
  request('subscribe', { room: r, presence: true }).then((rep) => {
    if (ws !== sock) return;
    if (room !== r) {  // left or switched while the request was in flight
      if (!rep.error) request('unsubscribe', { room: r });
      return;
    }
    if (rep.error) {
      const code = rep.error.code;
      if (code === 'disconnected') return;  // resubscribes after reconnect
      showError(rep.error, `Could not join ${r}`);
      if (['unavailable', 'rate_limited', 'timeout'].includes(code)) {
        setTimeout(() => { if (ws === sock && room === r && !subscribed) subscribe(); }, 2000 + Math.random() * 2000);
      } else {
        room = null;
        updateComposer();
      }
      return;
    }
    subscribed = true;
    addSystem(`You joined ${r}`);
    updateComposer();
    refreshPresence();
    sayHello(false);
  });
}

function leaveRoom() {
  if (!room) return;
  const r = room;
  if (subscribed) {
    request('unsubscribe', { room: r }).then((rep) => {
      if (rep.error && rep.error.code !== 'disconnected') showError(rep.error);
    });
    addSystem(`You left ${r}`);
  }
  room = null;
  subscribed = false;
  resetRoomState();
  updateComposer();
}

function refreshPresence() {
  const r = room;
  request('presence', { room: r }).then((rep) => {
    if (room !== r || !subscribed) return;
    if (rep.error) { if (rep.error.code !== 'disconnected') showError(rep.error); return; }
    online.clear();
    for (const u of rep.users || []) online.set(u.user, { info: u.info || {}, conns: u.conns || 1 });
    renderPresence();
  });
}

function publish(data, quiet = false) {
  return request('publish', { room, data }).then((rep) => {
    if (rep.error && !quiet) showError(rep.error);
    return rep;
  });
}

function sayHello(reply) {
  publish(reply ? { kind: 'hello', name: myName, cid, reply: true } : { kind: 'hello', name: myName, cid }, true);
}

// Others' names are only learned from their messages, so answer a newcomer's hello once
// (jittered, coalesced, and only in small rooms) so they can name everyone present.
function scheduleHelloReply() {
  if (helloReplyTimer || online.size > 30) return;
  helloReplyTimer = setTimeout(() => {
    helloReplyTimer = 0;
    if (subscribed) sayHello(true);
  }, 300 + Math.random() * 1200);
}

function resetRoomState() {
  online.clear();
  for (const t of typers.values()) clearTimeout(t);
  typers.clear();
  clearTimeout(helloReplyTimer);
  helloReplyTimer = 0;
  renderPresence();
  renderTyping();
}

function learnName(user, name) {
  if (!name || names.get(user) === name) return;
  names.set(user, name);
  for (const s of document.querySelectorAll(`.who[data-user="${CSS.escape(user)}"]`)) s.textContent = name;
  renderPresence();
  renderTyping();
}

function setSelf(user) {
  if (selfId === user) return;
  selfId = user;
  // "You joined" is already shown; drop the line for our own join event.
  for (const li of ui.messages.querySelectorAll(`li[data-kind="join"][data-user="${CSS.escape(user)}"]`)) li.remove();
  renderPresence();
}

function onMessage(from, data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    addChat(from, displayName(from), typeof data === 'string' ? data : JSON.stringify(data));
    return;
  }
  if (data.kind === 'hello' && cid && data.cid === cid) setSelf(from);
  const name = cleanName(data.name);
  if (['hello', 'chat', 'typing'].includes(data.kind)) learnName(from, name);
  switch (data.kind) {
    case 'chat':
      clearTyper(from);
      addChat(from, name || displayName(from), String(data.text ?? ''));
      break;
    case 'typing':
      if (from !== selfId) setTyper(from);
      break;
    case 'hello':
      if (from !== selfId && !data.reply) scheduleHelloReply();
      break;
    default:
      addChat(from, displayName(from), JSON.stringify(data));
  }
}

function onJoin(user, info) {
  if (typeof user !== 'string') return;
  const known = online.has(user);
  if (!known) online.set(user, { info: info || {}, conns: 1 });
  if (!known && user !== selfId) addEvent(user, 'join', 'joined');
  renderPresence();
}

function onLeave(user) {
  if (typeof user !== 'string') return;
  online.delete(user);
  clearTyper(user);
  if (user !== selfId) addEvent(user, 'leave', 'left');
  renderPresence();
}

function setTyper(user) {
  clearTimeout(typers.get(user));
  typers.set(user, setTimeout(() => clearTyper(user), TYPING_EXPIRE_MS));
  renderTyping();
}

function clearTyper(user) {
  if (!typers.has(user)) return;
  clearTimeout(typers.get(user));
  typers.delete(user);
  renderTyping();
}

function append(li) {
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  list.append(li);
  while (list.childElementCount > MAX_LINES) list.firstElementChild.remove();
  if (atBottom || li.classList.contains('own')) list.scrollTop = list.scrollHeight;
}

function timeEl() {
  const now = new Date();
  return h('time', { dateTime: now.toISOString(), text: now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) });
}

function addChat(from, name, text) {
  const own = from != null && from === selfId;
  append(h('li', { class: own ? 'msg own' : 'msg', 'data-testid': 'message', 'data-kind': 'chat', 'data-user': from ?? '' },
    h('div', { class: 'meta' }, h('span', { class: 'name', text: name }), timeEl()),
    h('p', { class: 'text', text })));
}

function addEvent(user, kind, verb) {
  append(h('li', { class: `event ${kind}`, 'data-testid': 'event', 'data-kind': kind, 'data-user': user },
    who(user), ` ${verb}`, timeEl()));
}

function addSystem(text) {
  append(h('li', { class: 'event system', 'data-testid': 'event', 'data-kind': 'system' }, text, timeEl()));
}

function renderPresence() {
  const users = [...online.entries()].sort(([a], [b]) =>
    (b === selfId) - (a === selfId) || displayName(a).localeCompare(displayName(b)));
  ui.presence.replaceChildren(...users.map(([user, { conns }]) => {
    const li = h('li', { 'data-testid': 'presence-user', 'data-user': user }, who(user));
    if (user === selfId) li.append(h('span', { class: 'you', text: ' (you)' }));
    if (conns > 1) li.append(h('span', { class: 'conns', text: ` ×${conns}` }));
    return li;
  }));
  ui.count.textContent = String(online.size);
}

function renderTyping() {
  const list = [...typers.keys()].map(displayName);
  ui.typing.textContent =
    list.length === 0 ? '' :
    list.length === 1 ? `${list[0]} is typing…` :
    list.length === 2 ? `${list[0]} and ${list[1]} are typing…` :
    `${list.length} people are typing…`;
}

function updateComposer() {
  ui.send.disabled = !subscribed;
  ui.msg.placeholder = subscribed ? `Message ${room}` : room ? 'Joining…' : 'Join a room to chat';
  ui.leave.hidden = !room;
  document.body.dataset.joined = String(subscribed);
}

function check(input, ok, message) {
  input.setCustomValidity(ok ? '' : message);
  return ok;
}
const validateRoom = () => check(ui.room, ROOM_RE.test(ui.room.value.trim()), 'Room: 1–200 characters from A–Z a–z 0–9 : _ - . @ /');
const validateName = () => check(ui.name, cleanName(ui.name.value) !== '', 'Pick a name');
ui.room.addEventListener('input', validateRoom);
ui.name.addEventListener('input', validateName);

ui.join.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!validateName()) { ui.name.reportValidity(); return; }
  if (!validateRoom()) { ui.room.reportValidity(); return; }
  const name = cleanName(ui.name.value), r = ui.room.value.trim();
  const renamed = name !== myName;
  myName = name;
  ui.name.value = name;
  store.set('switchboard.name', name);
  store.set('switchboard.room', r);
  if (room === r) {
    if (subscribed && renamed) sayHello(true);  // others learn the new name without answering
    ui.msg.focus();
    return;
  }
  leaveRoom();
  ui.messages.replaceChildren();
  room = r;
  history.replaceState(null, '', `#${r}`);
  updateComposer();
  if (ws?.readyState === WebSocket.OPEN) subscribe();
  else if (!ws) connect();
  ui.msg.focus();
});

ui.leave.addEventListener('click', () => {
  leaveRoom();
  history.replaceState(null, '', location.pathname);
});

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.msg.value.trim();
  if (!text) return;
  if (!subscribed) { showError({ code: 'offline', message: room ? 'Not connected yet' : 'Join a room first' }); return; }
  ui.msg.value = '';
  lastTypingSent = 0;
  publish({ kind: 'chat', name: myName, text }).then((rep) => {
    if (rep.error && !ui.msg.value) ui.msg.value = text;  // give the text back to retry
  });
});

ui.msg.addEventListener('input', () => {
  if (!subscribed || !ui.msg.value.trim()) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  publish({ kind: 'typing', name: myName }, true);
});

ui.peopleToggle.addEventListener('click', () => {
  const open = ui.people.classList.toggle('open');
  ui.peopleToggle.setAttribute('aria-expanded', String(open));
});

window.addEventListener('online', () => { if (!ws) { attempt = 0; connect(); } });

let hashRoom = '';
try { hashRoom = decodeURIComponent(location.hash.slice(1)); } catch { /* malformed hash */ }
ui.name.value = store.get('switchboard.name') || '';
ui.room.value = ROOM_RE.test(hashRoom) ? hashRoom : store.get('switchboard.room') || 'chat:lobby';
validateRoom();
updateComposer();
renderPresence();
(ui.name.value ? ui.room : ui.name).focus();
connect();
