// Switchboard demo chat, built on the SDK (/switchboard.js). Plain ES module, no dependencies.
// Message data shapes published to the room:
//   {kind:"hello",  name, cid[, reply:true]}  announce the display name
//   {kind:"chat",   name, text, cid, mid}      mid: the sender's id for this message
//   {kind:"typing", name, cid}
// cid is random per page: a message carrying ours is our own, which tells us our user id when
// the node made it up (anonymous connections).
import { Switchboard } from '/switchboard.js';

const ROOM_RE = /^[A-Za-z0-9:_\-.@/]{1,200}$/;
const TYPING_SEND_MS = 2000;
const TYPING_EXPIRE_MS = 4000;
const MAX_LINES = 500;
const OFFLINE_QUEUE = 50;

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

const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
const cid = randomHex();      // this page
let myName = '';
let tokenUser = null;         // the user id of our dev token, when the node hands them out
let room = null;              // the Room we are in (or rejoining)
let subscribed = false;       // `room` is subscribed on the current connection
let selfId = null;            // our user id on the current connection
let everConnected = false;
let refusal = '';             // why the node refused to connect us, shown until a connection opens
const names = new Map();      // user id -> display name
const online = new Map();     // user id -> {info, conns}
const typers = new Map();     // user id -> expiry timer
const outbox = new Map();     // mid -> <li> of our message until the node echoes it
let nextMid = 1, lastTypingSent = 0, helloReplyTimer = 0, toastTimer = 0, countdownTimer = 0;

const cleanName = (v) => (typeof v === 'string' ? v.replace(/\s+/g, ' ').trim().slice(0, 32) : '');
const shortId = (u) => (typeof u !== 'string' ? '?' : u.startsWith('anon-') ? u.slice(0, 9) : u.slice(0, 24));
const displayName = (u) => names.get(u) || shortId(u);

// Tokens: a node started with --dev hands them out at /dev/token; otherwise (404) we connect
// anonymously, which a node started with --allow-anonymous accepts.
async function getToken() {
  const res = await fetch(`/dev/token?user=${encodeURIComponent(myName)}`, { cache: 'no-store' });
  if (res.status === 404) { tokenUser = null; return null; }
  if (!res.ok) throw new Error(`/dev/token answered ${res.status}`);
  const body = await res.json();
  tokenUser = typeof body.user === 'string' ? body.user : null;
  return body.token;
}

const client = new Switchboard('/ws', { getToken, offlineQueue: { max: OFFLINE_QUEUE } });

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
}

const who = (user) => h('span', { class: 'who', 'data-user': user, text: displayName(user) });

function setConn(state, text) {
  clearInterval(countdownTimer);
  countdownTimer = 0;
  ui.conn.dataset.state = state;
  ui.conn.textContent = text;
  ui.conn.title = text;
  document.body.dataset.conn = state;
}

function showError(err, prefix = '') {
  const code = err?.code || 'error';
  const text = err?.message && err.message !== code ? `${err.message} (${code})` : code;
  ui.toast.textContent = prefix ? `${prefix}: ${text}` : text;
  ui.toast.dataset.code = code;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 5000);
}

// ---- the connection ----

client.on('connecting', () => setConn('connecting', everConnected ? 'Reconnecting…' : 'Connecting…'));

client.on('connected', ({ transport }) => {
  everConnected = true;
  refusal = '';
  delete ui.conn.dataset.refused;
  selfId = tokenUser;
  // Server-Sent Events: WebSockets did not get through (a proxy on the way refuses them);
  // long-polling: a stream did not either (the proxy holds responses until they end).
  const via = { sse: ' (via HTTP streaming)', poll: ' (via HTTP long-polling)' }[transport] ?? '';
  setConn('connected', tokenUser ? `Connected as ${tokenUser}${via}` : `Connected${via}`);
  ui.conn.dataset.transport = transport;
  updateComposer();
});

client.on('disconnected', ({ code, willReconnect }) => {
  if (subscribed) addSystem('Connection lost');
  subscribed = false;
  selfId = null;
  resetRoomState();
  updateComposer();
  if (!willReconnect) setConn('offline', refusal || (code === 4001 ? 'Session expired' : 'Not connected'));
});

client.on('reconnecting', ({ delay }) => {
  const until = Date.now() + delay;
  const tick = () => {
    const retry = `${Math.max(1, Math.ceil((until - Date.now()) / 1000))} s`;
    ui.conn.textContent = refusal ? `${refusal} Retrying in ${retry}…` : `Reconnecting in ${retry}…`;
  };
  setConn('reconnecting', '');
  tick();
  countdownTimer = setInterval(tick, 250);
  updateComposer();
});

const REFUSALS = {
  missing_token: 'The node wants a token: start it with --dev (tokens for any name) or --allow-anonymous.',
  origin_not_allowed: 'The node does not allow this page\'s origin: add it to the node\'s --allowed-origins.',
};

client.on('error', (err) => {
  if (err.op === 'connect') {
    refusal = REFUSALS[err.code] ?? `The node refused the connection: ${err.message} (${err.code}).`;
    ui.conn.dataset.refused = err.code;
    return;
  }
  // While the node is away, failing token fetches are part of reconnecting, not news.
  if (err.code === 'token_error' && client.state !== 'connected') return;
  showError(err);
});

// ---- the room ----

function joinRoom(name) {
  const r = client.subscribe(name, { presence: true });
  room = r;
  r.on('subscribed', ({ resubscribed }) => {
    if (room !== r) return;
    subscribed = true;
    addSystem(resubscribed ? `Reconnected to ${r.name}` : `You joined ${r.name}`);
    updateComposer();
    refreshPresence();
    sayHello(false);
  });
  r.on('message', ({ from, data }) => { if (room === r) onMessage(from, data); });
  r.on('join', ({ user, info }) => { if (room === r) onJoin(user, info); });
  r.on('leave', ({ user }) => { if (room === r) onLeave(user); });
  r.on('error', (err) => showError(err, `${r.name}`));
  r.on('unsubscribed', ({ code, message }) => {
    if (room !== r) return;
    // Ended by the node (e.g. forbidden after a token refresh) or refused at subscribe.
    if (code) showError({ code, message }, `Left ${r.name}`);
    room = null;
    subscribed = false;
    resetRoomState();
    updateComposer();
  });
  updateComposer();
  if (client.state === 'disconnected') client.connect();
}

function leaveRoom() {
  if (!room) return;
  const r = room;
  room = null;
  if (subscribed) addSystem(`You left ${r.name}`);
  subscribed = false;
  r.unsubscribe().catch((err) => showError(err));
  resetRoomState();
  updateComposer();
}

function refreshPresence() {
  const r = room;
  r.presence().then((users) => {
    if (room !== r || !subscribed) return;
    online.clear();
    for (const u of users) online.set(u.user, { info: u.info || {}, conns: u.conns || 1 });
    renderPresence();
  }, (err) => { if (err.code !== 'disconnected') showError(err); });
}

// Publishes quietly: failures of hellos and typing notices do not matter.
function publishQuiet(data) {
  if (!room || !subscribed) return;
  room.publish(data).catch(() => {});
}

function sayHello(reply) {
  publishQuiet(reply ? { kind: 'hello', name: myName, cid, reply: true } : { kind: 'hello', name: myName, cid });
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

function sendChat(text) {
  const mid = `${cid}-${nextMid++}`;
  const li = addChat(selfId, myName, text, { own: true, state: 'sending' });
  outbox.set(mid, li);
  room.publish({ kind: 'chat', name: myName, text, cid, mid }).then(
    () => { if (li.dataset.state === 'sending') markSent(li, 'sent'); },
    (err) => {
      outbox.delete(mid);
      markSent(li, 'failed');
      li.append(h('button', {
        type: 'button', class: 'retry', text: 'Retry', 'data-testid': 'retry-button',
        onclick: () => { li.remove(); if (room) sendChat(text); },
      }));
      showError(err, 'Not sent');
    },
  );
}

function markSent(li, state) {
  li.dataset.state = state;
  const status = li.querySelector('.status');
  if (status) status.textContent = state === 'failed' ? 'not sent' : state === 'sending' ? 'sending…' : '';
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
  clearTyper(user);
  renderPresence();
}

function onMessage(from, data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    addChat(from, displayName(from), typeof data === 'string' ? data : JSON.stringify(data));
    return;
  }
  const mine = typeof data.cid === 'string' && data.cid === cid;
  if (mine) setSelf(from);
  const name = cleanName(data.name);
  if (['hello', 'chat', 'typing'].includes(data.kind)) learnName(from, name);
  switch (data.kind) {
    case 'chat': {
      clearTyper(from);
      const li = mine ? outbox.get(data.mid) : undefined;
      if (li) { // our own message, echoed by the node: delivered
        outbox.delete(data.mid);
        li.dataset.user = from;
        markSent(li, 'delivered');
      } else {
        addChat(from, name || displayName(from), String(data.text ?? ''), { own: mine });
      }
      break;
    }
    case 'typing':
      if (!mine && from !== selfId) setTyper(from);
      break;
    case 'hello':
      if (!mine && !data.reply) scheduleHelloReply();
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

// ---- rendering ----

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

function addChat(from, name, text, { own = false, state = '' } = {}) {
  const li = h('li', { class: own ? 'msg own' : 'msg', 'data-testid': 'message', 'data-kind': 'chat', 'data-user': from ?? '' },
    h('div', { class: 'meta' }, h('span', { class: 'name', text: name }), timeEl(), h('span', { class: 'status' })),
    h('p', { class: 'text', text }));
  if (state) markSent(li, state);
  append(li);
  return li;
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
  // While reconnecting, messages wait in the client's offline queue and go out once back.
  ui.send.disabled = !room;
  ui.msg.placeholder =
    !room ? 'Join a room to chat' :
    subscribed ? `Message ${room.name}` :
    client.state === 'connected' || client.state === 'connecting' ? 'Joining…' : 'Offline: sent when back';
  ui.leave.hidden = !room;
  document.body.dataset.joined = String(subscribed);
}

// ---- the forms ----

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
  const renamed = myName !== '' && name !== myName;
  myName = name;
  ui.name.value = name;
  store.set('switchboard.name', name);
  store.set('switchboard.room', r);
  if (renamed && tokenUser !== null) {
    // Our user id is our name: a new token, so a new connection (rooms are resubscribed).
    client.disconnect();
    client.connect();
  }
  if (room?.name === r) {
    if (subscribed && renamed) sayHello(true); // others learn the new name without answering
    ui.msg.focus();
    return;
  }
  leaveRoom();
  ui.messages.replaceChildren();
  history.replaceState(null, '', `#${r}`);
  joinRoom(r);
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
  if (!room) { showError({ code: 'no_room', message: 'Join a room first' }); return; }
  ui.msg.value = '';
  lastTypingSent = 0;
  sendChat(text);
});

ui.msg.addEventListener('input', () => {
  if (!subscribed || client.state !== 'connected' || !ui.msg.value.trim()) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_SEND_MS) return;
  lastTypingSent = now;
  publishQuiet({ kind: 'typing', name: myName, cid });
});

ui.peopleToggle.addEventListener('click', () => {
  const open = ui.people.classList.toggle('open');
  ui.peopleToggle.setAttribute('aria-expanded', String(open));
});

// ---- start ----

let hashRoom = '';
try { hashRoom = decodeURIComponent(location.hash.slice(1)); } catch { /* malformed hash */ }
ui.name.value = store.get('switchboard.name') || '';
ui.room.value = ROOM_RE.test(hashRoom) ? hashRoom : store.get('switchboard.room') || 'chat:lobby';
validateRoom();
updateComposer();
renderPresence();
setConn('offline', 'Not connected');
(ui.name.value ? ui.room : ui.name).focus();
// A returning visitor connects at once (their name gives their token); a new one on joining.
myName = cleanName(ui.name.value);
if (myName) client.connect();
