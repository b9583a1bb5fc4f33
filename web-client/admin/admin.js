// The operator dashboard: signs in with the node's admin key (kept in this tab's sessionStorage,
// sent as Authorization: Bearer to this node only), polls GET /admin/api/stats, and keeps the last
// minutes of its counters as series for the charts. Rates are the counters' differences between
// two polls. No library and no build step: the charts are drawn on canvases by drawChart().
// ?poll=<ms> changes how often the node is asked (2000 by default, at least 250).

const STORAGE_KEY = 'switchboard-admin-key';
const STATS_URL = '/admin/api/stats';
const POLL_MS = Math.max(250, Number(new URLSearchParams(location.search).get('poll')) || 2000);
const WINDOW_MS = 5 * 60 * 1000; // what the charts show
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(STORAGE_KEY);
let timer = null;
let generation = 0; // a sign-out ends the polls of the session before it
let previous = null; // the last stats, for rates
let polls = 0;
const series = { messages: [], deliveries: [], connections: [] };

// ---- formatting ----
const count = (n) => Number(n).toLocaleString('en-US');
function rate(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  if (v < 10) return v.toFixed(1);
  return Math.round(v).toLocaleString('en-US');
}
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}
function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}
function row(...cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el('td', cell));
  return tr;
}

// ---- screens ----
function setStatus(state, text) {
  const pill = $('status');
  pill.dataset.state = state;
  pill.textContent = text;
}

function showLogin(message) {
  document.body.dataset.state = 'login';
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  const error = $('login-error');
  error.hidden = !message;
  error.textContent = message || '';
  setStatus(message ? 'refused' : 'idle', message ? 'Key refused' : 'Signed out');
  $('key').focus();
}

function showDashboard() {
  document.body.dataset.state = 'dashboard';
  $('login').hidden = true;
  $('login-error').hidden = true;
  $('dashboard').hidden = false;
  $('logout').hidden = false;
}

function signOut(message) {
  generation++;
  clearTimeout(timer);
  timer = null;
  key = null;
  sessionStorage.removeItem(STORAGE_KEY);
  previous = null;
  for (const s of Object.values(series)) s.length = 0;
  $('key').value = '';
  showLogin(message);
}

function trouble(message) {
  const banner = $('problem');
  banner.hidden = !message;
  banner.textContent = message || '';
}

// ---- polling ----
function schedule(mine) {
  if (mine === generation) timer = setTimeout(() => poll(mine), POLL_MS);
}

async function poll(mine) {
  let res;
  try {
    res = await fetch(STATS_URL, {
      headers: { Authorization: `Bearer ${key}` }, cache: 'no-store', credentials: 'omit', redirect: 'error',
    });
  } catch {
    if (mine !== generation) return;
    trouble(`The node does not answer. Trying again every ${POLL_MS / 1000} s.`);
    setStatus('trouble', 'Unreachable');
    return schedule(mine);
  }
  if (mine !== generation) return;
  if (res.status === 401) return signOut('The node refused this key (401). Check the node\'s --admin-key.');
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    trouble(`The node answered ${res.status}${body?.error?.message ? `: ${body.error.message}` : ''}.`);
    setStatus('trouble', `Error ${res.status}`);
    return schedule(mine);
  }
  try {
    const stats = await res.json();
    if (mine !== generation) return;
    trouble(null);
    showDashboard();
    update(stats);
    document.body.dataset.polls = String(++polls);
  } catch (err) {
    // Not the node's JSON (e.g. a proxy's page): say so, and keep polling.
    if (mine !== generation) return;
    trouble(`The node's answer could not be read (${err instanceof Error ? err.message : err}).`);
    setStatus('trouble', 'Unreadable');
  }
  schedule(mine);
}

function start() {
  generation++;
  clearTimeout(timer);
  setStatus('idle', 'Signing in…');
  poll(generation);
}

// ---- what the stats show ----
function push(points, t, v) {
  points.push({ t, v });
  while (points.length && points[0].t < t - WINDOW_MS) points.shift();
}

function update(stats) {
  const self = stats.nodes.find((n) => n.self) || stats.nodes[0];
  const t = stats.time_ms;
  // A node that restarted (another id, or counters that went back) starts the series again.
  if (previous && (previous.self.id !== self.id ||
      stats.totals.messages_published < previous.stats.totals.messages_published ||
      t <= previous.stats.time_ms)) {
    previous = null;
    for (const s of Object.values(series)) s.length = 0;
  }
  let messagesRate = null;
  let deliveriesRate = null;
  if (previous) {
    const seconds = (t - previous.stats.time_ms) / 1000;
    messagesRate = (stats.totals.messages_published - previous.stats.totals.messages_published) / seconds;
    deliveriesRate = (stats.totals.deliveries - previous.stats.totals.deliveries) / seconds;
    push(series.messages, t, messagesRate);
    push(series.deliveries, t, deliveriesRate);
  }
  push(series.connections, t, stats.connections.current);
  previous = { stats, self };

  setStatus(self.ready ? 'live' : 'trouble', self.ready ? 'Live' : (self.draining ? 'Draining' : 'Not ready'));
  $('connections').textContent = count(stats.connections.current);
  $('subscriptions').textContent = count(stats.rooms.subscriptions);
  $('rooms').textContent = count(stats.rooms.count);
  $('messages-rate').textContent = rate(messagesRate);
  $('deliveries-rate').textContent = rate(deliveriesRate);
  $('slow-consumers').textContent = count(stats.slow_consumers.total);
  $('slow-consumers').classList.toggle('bad', stats.slow_consumers.total > 0);
  $('messages-now').textContent = messagesRate === null ? '' : `${rate(messagesRate)}/s`;
  $('deliveries-now').textContent = deliveriesRate === null ? '' : `${rate(deliveriesRate)}/s`;
  $('connections-now').textContent = count(stats.connections.current);

  renderNodes(stats);
  renderRooms(stats.rooms);
  renderTrouble(stats);
  drawCharts();
  $('updated').textContent = `Updated ${new Date(t).toLocaleTimeString('en-GB')} · every ${POLL_MS / 1000} s · ` +
    `${count(stats.totals.messages_published)} messages and ${count(stats.connections.opened)} connections since the node started`;
}

function renderNodes(stats) {
  const body = $('nodes');
  body.replaceChildren(...stats.nodes.map((n) => {
    const id = el('td', n.id, 'id');
    if (n.self) id.append(el('span', 'this node', 'tag'));
    const redis = { connected: 'connected', unreachable: 'unreachable', not_used: 'not used (single node)' }[n.redis] || n.redis;
    const tr = row(id, n.version, duration(n.uptime_seconds),
      el('td', n.ready ? 'ready' : (n.draining ? 'draining' : 'not ready'), n.ready ? 'ok' : 'bad'),
      el('td', redis, n.redis === 'unreachable' ? 'bad' : (n.redis === 'connected' ? 'ok' : undefined)),
      n.connections === undefined ? '—' : count(n.connections));
    // Each cell names its column, for the narrow layout where the header row is hidden.
    ['Node', 'Version', 'Uptime', 'Ready', 'Redis', 'Connections'].forEach((label, i) => { tr.cells[i].dataset.label = label; });
    return tr;
  }));
  let note = 'A single node: it runs without Redis, alone.';
  if (stats.cluster.clustered) {
    note = stats.other_nodes_shown
      ? `${stats.nodes_answered} of the ${stats.nodes_known} nodes the cluster knows answered; ` +
        'the charts and rooms below are this node\'s.'
      : 'Only this node is shown: the others could not be asked (Redis is unreachable).';
    if (stats.other_nodes_shown && stats.nodes_answered === 0) {
      note = 'Only this node is shown: the others could not be asked (Redis is unreachable).';
    }
  }
  $('nodes-note').textContent = note;
}

function renderRooms(rooms) {
  const body = $('top-rooms');
  $('top-note').textContent = rooms.count > rooms.top.length ? `(${rooms.top.length} of ${count(rooms.count)})` : '';
  if (!rooms.top.length) {
    const td = el('td', 'No room has a subscriber on this node.', 'empty');
    td.colSpan = 2;
    return body.replaceChildren(row(td));
  }
  const most = rooms.top[0].subscribers || 1;
  body.replaceChildren(...rooms.top.map((r) => {
    const name = el('td', r.room, 'bar-cell');
    const meter = el('span', undefined, 'meter');
    meter.style.width = `${Math.max(1, (100 * r.subscribers) / most)}%`;
    name.append(meter);
    return row(name, el('td', count(r.subscribers), 'num'));
  }));
}

function renderTrouble(stats) {
  const rows = [];
  const group = (title) => { const td = el('td', title, 'group'); td.colSpan = 2; rows.push(row(td)); };
  const line = (label, n, testid) => {
    const value = el('td', count(n), n > 0 ? 'num bad' : 'num');
    const tr = row(label, value);
    if (testid) tr.dataset.testid = testid;
    rows.push(tr);
  };
  group('Slow consumers (closed with 4008)');
  line('all', stats.slow_consumers.total, 'slow-consumers-total');
  line('of which a write made no progress', stats.slow_consumers.write_timeouts);
  group('Deliveries dropped');
  line('to slow consumers', stats.drops.slow_consumer, 'drops-slow_consumer');
  line('publishes refused: rate limited', stats.drops.rate_limited, 'drops-rate_limited');
  group('Handshakes refused');
  const reasons = Object.entries(stats.handshakes_rejected).sort((a, b) => b[1] - a[1]);
  if (!reasons.length) line('none', 0);
  for (const [reason, n] of reasons) line(reason.replaceAll('_', ' '), n, `rejected-${reason}`);
  const hooks = stats.webhooks;
  if (hooks && hooks.urls > 0) {
    group(`Webhooks (${hooks.urls} URL${hooks.urls === 1 ? '' : 's'}: ${count(hooks.events_delivered)} events delivered, ${count(hooks.queued_now)} waiting)`);
    line('failed POSTs (retried)', hooks.failures, 'webhook-failures');
    line('events dropped: queue full', hooks.dropped.queue_full, 'webhook-dropped-queue_full');
    line('events dropped: gave up', hooks.dropped.gave_up, 'webhook-dropped-gave_up');
    line('events dropped: refused (4xx)', hooks.dropped.rejected, 'webhook-dropped-rejected');
  }
  // The proxy to the application, per route it asks (connect, subscribe, publish).
  for (const [route, r] of Object.entries(stats.proxy?.routes ?? {})) {
    group(`Proxy: ${route} (${count(r.allowed)} allowed, ${count(r.denied)} refused by the application)`);
    line('unavailable (no answer in time, an error, busy)', r.unavailable, `proxy-${route}-unavailable`);
  }
  $('trouble').replaceChildren(...rows);
}

// ---- charts ----
function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const unit = 10 ** Math.floor(Math.log10(v));
  const f = v / unit;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * unit;
}

function drawChart(canvas, points, integers) {
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const left = 44;
  const right = w - 6;
  const top = 8;
  const bottom = h - 20;
  const max = Math.max(integers ? 1 : 0.1, niceCeiling(Math.max(0, ...points.map((p) => p.v))));
  const y = (v) => bottom - (v / max) * (bottom - top);
  const now = points.length ? points[points.length - 1].t : Date.now();
  // The time shown: what the series holds, from 10 polls up to the whole window.
  const span = Math.min(WINDOW_MS, Math.max(10 * POLL_MS, points.length ? now - points[0].t : 0));
  const x = (t) => right - ((now - t) / span) * (right - left);

  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.strokeStyle = color('--line');
  ctx.fillStyle = color('--muted');
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of [0, max / 2, max]) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(right, yy);
    ctx.stroke();
    if (!integers || Number.isInteger(v)) ctx.fillText(integers ? count(v) : rate(v), left - 6, yy);
  }
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  ctx.fillText(span >= 60000 ? `${Math.round(span / 60000)} min ago` : `${Math.round(span / 1000)} s ago`, left, h - 5);
  ctx.textAlign = 'right';
  ctx.fillText('now', right, h - 5);

  if (points.length < 2) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('collecting…', (left + right) / 2, (top + bottom) / 2);
    return;
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top - 2, right - left, bottom - top + 4);
  ctx.clip();
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
  ctx.lineTo(x(now), bottom);
  ctx.lineTo(x(points[0].t), bottom);
  ctx.closePath();
  ctx.fillStyle = color('--accent-soft');
  ctx.fill();
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
  ctx.strokeStyle = color('--accent');
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.stroke();
  ctx.restore();
}

function drawCharts() {
  drawChart($('messages-chart'), series.messages, false);
  drawChart($('deliveries-chart'), series.deliveries, false);
  drawChart($('connections-chart'), series.connections, true);
}

// ---- start ----
document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    const typed = $('key').value.trim();
    if (!typed) return;
    key = typed;
    sessionStorage.setItem(STORAGE_KEY, key);
    start();
  });
  $('logout').addEventListener('click', () => signOut(null));
  new ResizeObserver(() => { if (!$('dashboard').hidden) drawCharts(); }).observe($('dashboard'));
  if (key) start();
  else showLogin(null);
});
