// Browser pages on another origin, in a real browser (Debian's Chromium driven by
// playwright-core): a page served from another loopback port publishes with fetch() and reads
// an EventSource from a node that lists its origin in --allowed-origins, and can do neither
// against a node that does not (its cross-site POST publishes nothing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { SwitchboardNode, within } from './support/helpers.js';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 10000; // ms, any single wait on the page

let site; // the other origin: a tiny web server on its own loopback port
let siteOrigin;
let allowing; // a node with --allowed-origins <siteOrigin>
let refusing; // a node that allows other origins only
let browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium (scripts/install-deps does)`);
  site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another origin</title><p>a page of another origin</p>');
  });
  await new Promise((resolve, reject) => { site.once('error', reject); site.listen(0, '127.0.0.1', resolve); });
  siteOrigin = `http://127.0.0.1:${site.address().port}`;
  allowing = await SwitchboardNode.start({ args: ['--allowed-origins', `https://app.example.com,${siteOrigin}`] });
  refusing = await SwitchboardNode.start({ args: ['--allowed-origins', 'https://app.example.com'] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await allowing?.stop();
  await refusing?.stop();
  await new Promise((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

async function openSitePage() {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  await page.goto(`${siteOrigin}/`);
  return page;
}

/** The room's messages kept by `node`, asked as a backend would (no Origin). */
async function history(node, room) {
  const res = await fetch(`${node.httpUrl}/api/history?room=${encodeURIComponent(room)}`);
  assert.equal(res.status, 200);
  return (await res.json()).messages.map((m) => m.data);
}

// In the page: opens an EventSource on the node, waits for its rooms' `subscribed` events, then
// publishes with fetch() (a JSON body: preflighted) and waits for the message on the stream.
async function publishAndReceive(page, base, room) {
  return within(WAIT, page.evaluate(async ({ base, room }) => {
    const stream = new EventSource(`${base}/sse?rooms=${room}`);
    const events = [];
    const waiters = [];
    stream.onmessage = (e) => {
      events.push(JSON.parse(e.data));
      for (const w of [...waiters]) if (events.some(w.test)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    };
    const seen = (test) => (events.some(test) ? Promise.resolve() : new Promise((resolve) => waiters.push({ test, resolve })));
    try {
      await seen((e) => e.type === 'subscribed');
      const json = await fetch(`${base}/api/publish`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ room, data: 'json from the page' }),
      });
      const plain = await fetch(`${base}/api/publish`, {
        method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ room, data: 'text from the page' }),
      });
      await seen((e) => e.type === 'message' && e.data === 'text from the page');
      return {
        statuses: [json.status, plain.status],
        acks: [await json.json(), await plain.json()],
        received: events.filter((e) => e.type === 'message').map((e) => e.data),
      };
    } finally {
      stream.close();
    }
  }, { base, room }), 'publishing and receiving in the page');
}

test('a page of an allowed origin publishes with fetch() and reads an EventSource', { timeout: 30000 }, async () => {
  const room = `cors:allowed-${process.pid}`;
  const page = await openSitePage();
  const result = await publishAndReceive(page, allowing.httpUrl, room);
  assert.deepEqual(result.statuses, [200, 200]);
  assert.deepEqual(result.acks.map((a) => a.ok), [true, true]);
  assert.deepEqual(result.received, ['json from the page', 'text from the page']);
  assert.deepEqual(await history(allowing, room), ['json from the page', 'text from the page']);
  await page.context().close();
});

test('a page of another origin can neither publish nor open a stream', { timeout: 30000 }, async () => {
  const room = `cors:refused-${process.pid}`;
  const page = await openSitePage();
  const result = await within(WAIT, page.evaluate(async ({ base, room }) => {
    const outcome = async (promise) => promise.then((res) => `status ${res.status}`, (err) => err.name);
    const json = await outcome(fetch(`${base}/api/publish`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ room, data: 'json' }),
    }));
    // A text/plain POST needs no preflight: the browser sends it, the node refuses it.
    const plain = await outcome(fetch(`${base}/api/publish`, {
      method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ room, data: 'text' }),
    }));
    const stream = await new Promise((resolve) => {
      const es = new EventSource(`${base}/sse?rooms=${room}`);
      es.onopen = () => { es.close(); resolve('opened'); };
      es.onerror = () => { const state = es.readyState; es.close(); resolve(state === EventSource.CLOSED ? 'failed' : 'retrying'); };
    });
    const socket = await new Promise((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
      ws.onopen = () => { ws.close(); resolve('opened'); };
      ws.onerror = () => resolve('failed');
    });
    return { json, plain, stream, socket };
  }, { base: refusing.httpUrl, room }), 'the refused page');
  assert.deepEqual(result, { json: 'TypeError', plain: 'TypeError', stream: 'failed', socket: 'failed' });
  assert.deepEqual(await history(refusing, room), [], 'nothing was published');
  const metrics = await (await fetch(`${refusing.httpUrl}/metrics`)).text();
  // The preflight of the JSON POST, the text/plain POST, the stream and the WebSocket.
  assert.match(metrics, /switchboard_http_requests_refused_total\{route="api",reason="origin_not_allowed"\} 2/);
  assert.match(metrics, /switchboard_http_requests_refused_total\{route="sse",reason="origin_not_allowed"\} 1/);
  assert.match(metrics, /switchboard_http_requests_refused_total\{route="ws",reason="origin_not_allowed"\} 1/);
  await page.context().close();
});

test('the client module loads across origins, and a refused origin is a final, typed error', { timeout: 30000 }, async () => {
  const page = await openSitePage();
  const result = await within(WAIT, page.evaluate(async ({ allowed, refused }) => {
    // The module itself, from the node, across origins (the node serves it with CORS headers).
    const { Switchboard } = await import(`${allowed}/switchboard.js`);
    const ws = (base) => `${base.replace('http', 'ws')}/ws`;
    const ok = new Switchboard(ws(allowed));
    const transport = await new Promise((resolve) => { ok.on('connected', (e) => resolve(e.transport)); ok.connect(); });
    ok.disconnect();
    // The browser shows a refused WebSocket as 1006 only: the client asks the node why, and stops.
    const c = new Switchboard(ws(refused), { minReconnectDelay: 10, maxReconnectDelay: 40 });
    const events = [];
    for (const e of ['error', 'disconnected', 'reconnecting', 'connected']) {
      c.on(e, (x) => events.push([e, x?.code ?? null, x?.refused ?? null, x?.willReconnect ?? null]));
    }
    await new Promise((resolve) => { c.on('disconnected', (e) => { if (!e.willReconnect) resolve(); }); c.connect(); });
    return { transport, events, state: c.state };
  }, { allowed: allowing.httpUrl, refused: refusing.httpUrl }), 'the client in the page');
  assert.equal(result.transport, 'websocket');
  assert.deepEqual(result.events, [['error', 'origin_not_allowed', null, null], ['disconnected', 1006, 'origin_not_allowed', false]]);
  assert.equal(result.state, 'disconnected');
  await page.context().close();
});
