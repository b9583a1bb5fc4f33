// The demo chat in a real browser (Debian's Chromium driven by playwright-core) against a real
// node: two people chat, see each other in presence, type, leave; the node restarts under them;
// and the page fits a phone's screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SwitchboardNode, startBufferingProxy, startProxy, webClientDir } from './support/helpers.js';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 10000; // ms, any single wait on the page
const results = path.join(webClientDir, 'test-results');

let node;
let browser;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium (scripts/install-deps does)`);
  mkdirSync(results, { recursive: true });
  node = await SwitchboardNode.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

async function openPage(options = {}, base = node.httpUrl) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err));
  // Every state the connection pill shows, in order.
  await page.addInitScript(() => {
    window.__connStates = [];
    document.addEventListener('DOMContentLoaded', () => {
      const pill = document.querySelector('[data-testid="conn-state"]');
      const log = () => { if (window.__connStates.at(-1) !== pill.dataset.state) window.__connStates.push(pill.dataset.state); };
      log();
      new MutationObserver(log).observe(pill, { attributes: true, attributeFilter: ['data-state'] });
    });
  });
  await page.goto(`${base}/`);
  return page;
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

async function join(page, name, room) {
  await byTestId(page, 'name-input').fill(name);
  await byTestId(page, 'room-input').fill(room);
  await byTestId(page, 'join-button').click();
  await page.locator('body[data-joined="true"]').waitFor();
  await page.locator('[data-testid="conn-state"][data-state="connected"]').waitFor();
}

async function say(page, text) {
  await byTestId(page, 'message-input').fill(text);
  await byTestId(page, 'send-button').click();
}

const message = (page, text) => byTestId(page, 'message-list').locator('[data-testid="message"]', { hasText: text });
const presenceUser = (page, name) => byTestId(page, 'presence-list').locator('[data-testid="presence-user"]', { hasText: name });
const presenceCount = (page, n) => page.waitForFunction(
  (want) => document.querySelector('[data-testid="presence-count"]').textContent === String(want), n, { timeout: WAIT });

test('two people chat through a node, across a node restart', { timeout: 45000 }, async () => {
  const room = `chat:e2e-${process.pid}`;
  const alice = await openPage({ viewport: { width: 1000, height: 700 } });
  const bob = await openPage({ viewport: { width: 1000, height: 700 } });

  await join(alice, 'Alice', room);
  await join(bob, 'Bob', room);

  // Both see each other online, by name (learned from the hello messages).
  await presenceUser(alice, 'Bob').waitFor();
  // Anonymous ids are new after a reconnect; names come back through the hellos.
  await presenceUser(bob, 'Alice').waitFor();
  await presenceUser(alice, 'Bob').waitFor();
  await presenceCount(alice, 2);
  await presenceCount(bob, 2);
  await presenceUser(alice, 'Alice (you)').waitFor();
  await byTestId(alice, 'event').filter({ hasText: 'Bob joined' }).waitFor();

  // Typing shows on the other side, and a message clears it.
  await byTestId(bob, 'message-input').pressSequentially('Hi Al', { delay: 10 });
  await byTestId(alice, 'typing-indicator').filter({ hasText: 'Bob is typing…' }).waitFor();
  assert.equal(await byTestId(bob, 'typing-indicator').textContent(), '', 'no indicator for one\'s own typing');
  await byTestId(bob, 'message-input').fill('Hi Alice!');
  await byTestId(bob, 'send-button').click();
  await message(alice, 'Hi Alice!').waitFor();
  assert.equal(await byTestId(alice, 'typing-indicator').textContent(), '');
  await message(bob, 'Hi Alice!').and(bob.locator('[data-state="delivered"]')).waitFor();
  assert.equal(await message(alice, 'Hi Alice!').locator('.name').textContent(), 'Bob');

  await say(alice, 'Hello Bob <b>not bold</b>');
  await message(bob, 'Hello Bob <b>not bold</b>').waitFor();
  assert.equal(await bob.locator('b').count(), 0, 'message text is text, not HTML');

  // Bob leaves: Alice sees it. Bob comes back.
  await byTestId(bob, 'leave-button').click();
  await byTestId(alice, 'event').filter({ hasText: 'Bob left' }).waitFor();
  await presenceCount(alice, 1);
  await join(bob, 'Bob', room);
  await presenceUser(alice, 'Bob').waitFor();
  await presenceCount(alice, 2);

  // The node restarts: both pages show reconnecting, then connected, and rejoin the room.
  const port = node.port;
  await node.stop();
  for (const page of [alice, bob]) {
    await page.locator('[data-testid="conn-state"][data-state="reconnecting"]').or(
      page.locator('[data-testid="conn-state"][data-state="connecting"]')).waitFor();
    await page.locator('body[data-joined="false"]').waitFor();
  }
  // A message written while offline waits in the client's queue.
  await say(bob, 'sent while the node was down');
  await message(bob, 'sent while the node was down').and(bob.locator('[data-state="sending"]')).waitFor();

  node = await SwitchboardNode.start({ port });
  for (const page of [alice, bob]) {
    await page.locator('[data-testid="conn-state"][data-state="connected"]').waitFor();
    await page.locator('body[data-joined="true"]').waitFor();
    const states = await page.evaluate(() => window.__connStates);
    const lost = states.lastIndexOf('reconnecting');
    assert.ok(lost > 0 && states.indexOf('connected') < lost && states.at(-1) === 'connected',
      `connection states ${states.join(' → ')}`);
    await byTestId(page, 'event').filter({ hasText: `Reconnected to ${room}` }).waitFor();
  }
  // Bob's queued message went out once Bob was back in the room: the node echoed it to him.
  // (Alice gets it only if she was back first: the node keeps no history.)
  await message(bob, 'sent while the node was down').and(bob.locator('[data-state="delivered"]')).waitFor();

  // Chat still works, and presence is whole again.
  await say(alice, 'Still here after the restart');
  await message(bob, 'Still here after the restart').waitFor();
  await presenceCount(alice, 2);
  await presenceCount(bob, 2);
  // Anonymous ids are new after a reconnect; names come back through the hellos.
  await presenceUser(bob, 'Alice').waitFor();
  await presenceUser(alice, 'Bob').waitFor();

  await alice.screenshot({ path: path.join(results, 'chat-desktop.png') });
  await alice.context().close();
  await bob.context().close();
  assert.deepEqual(pageErrors.map(String), []);
});

test('the chat fits a phone-sized screen', { timeout: 30000 }, async () => {
  const phone = await openPage({ viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await join(phone, 'Pat with a rather long display name', `chat:phone-${process.pid}`);
  await say(phone, `a-very-long-word-without-any-spaces-${'x'.repeat(120)}`);
  await say(phone, 'short one');
  await message(phone, 'short one').and(phone.locator('[data-state="delivered"]')).waitFor();

  const overflow = () => phone.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5); })
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).replace(/ /g, '.')}` : ''}`);
    return { width, scrollWidth: document.documentElement.scrollWidth, wide };
  });
  let o = await overflow();
  assert.equal(o.width, 375);
  assert.ok(o.scrollWidth <= o.width, `page is ${o.scrollWidth}px wide`);
  assert.deepEqual(o.wide, [], 'elements past the right edge');

  // The online list folds away on a phone and opens on a tap.
  assert.equal(await byTestId(phone, 'presence-list').isVisible(), false);
  await phone.locator('#people-toggle').tap();
  await byTestId(phone, 'presence-list').waitFor({ state: 'visible' });
  await presenceCount(phone, 1);
  o = await overflow();
  assert.deepEqual(o.wide, []);
  // Everything one needs is on screen without scrolling the page.
  for (const id of ['message-input', 'send-button', 'conn-state']) {
    const box = await byTestId(phone, id).boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 667, `${id} on screen: ${JSON.stringify(box)}`);
  }
  await phone.screenshot({ path: path.join(results, 'chat-phone.png') });
  await phone.context().close();
  assert.deepEqual(pageErrors.map(String), []);
});

test('with a --dev node the page fetches tokens: user ids are the names', { timeout: 30000 }, async () => {
  const dev = await SwitchboardNode.start({ anonymous: false, args: ['--dev'] });
  try {
    const room = `chat:dev-${process.pid}`;
    const alice = await openPage({}, dev.httpUrl);
    const bob = await openPage({}, dev.httpUrl);
    await join(alice, 'Alice', room);
    await join(bob, 'Bob', room);
    await byTestId(alice, 'conn-state').filter({ hasText: 'Connected as Alice' }).waitFor();
    await alice.locator('[data-testid="presence-user"][data-user="Bob"]').waitFor();
    await bob.locator('[data-testid="presence-user"][data-user="Alice"]').waitFor();
    await say(alice, 'hi from a token');
    await bob.locator('[data-testid="message"][data-user="Alice"]', { hasText: 'hi from a token' }).waitFor();

    // A new name is a new user: a new token, a new connection, the room rejoined.
    await join(bob, 'Robert', room);
    await byTestId(bob, 'conn-state').filter({ hasText: 'Connected as Robert' }).waitFor();
    await alice.locator('[data-testid="presence-user"][data-user="Robert"]').waitFor();
    await alice.locator('[data-testid="presence-user"][data-user="Bob"]').waitFor({ state: 'detached' });
    await alice.context().close();
    await bob.context().close();
    assert.deepEqual(pageErrors.map(String), []);
  } finally {
    await dev.stop();
  }
});

test('behind a proxy that refuses WebSockets the page falls back to Server-Sent Events', { timeout: 30000 }, async () => {
  const dev = await SwitchboardNode.start({ anonymous: false, args: ['--dev'] });
  const proxy = await startProxy(dev.port, { blockWebSockets: true });
  try {
    const room = `chat:sse-${process.pid}`;
    const alice = await openPage({}, `http://127.0.0.1:${proxy.port}`); // the page itself loads through the proxy
    const bob = await openPage({}, dev.httpUrl);
    await join(alice, 'Alice', room);
    await join(bob, 'Bob', room);
    await alice.locator('[data-testid="conn-state"][data-transport="sse"]').waitFor();
    await bob.locator('[data-testid="conn-state"][data-transport="websocket"]').waitFor();
    assert.ok(proxy.upgradesRefused >= 2, `${proxy.upgradesRefused} upgrades refused`);
    // Presence, messages and typing both ways.
    await alice.locator('[data-testid="presence-user"][data-user="Bob"]').waitFor();
    await bob.locator('[data-testid="presence-user"][data-user="Alice"]').waitFor();
    await say(alice, 'hello over HTTP');
    await bob.locator('[data-testid="message"][data-user="Alice"]', { hasText: 'hello over HTTP' }).waitFor();
    await message(alice, 'hello over HTTP').and(alice.locator('[data-state="delivered"]')).waitFor();
    await byTestId(bob, 'message-input').pressSequentially('Hi Al', { delay: 10 });
    await byTestId(alice, 'typing-indicator').filter({ hasText: 'Bob is typing…' }).waitFor();
    await say(bob, 'hello over a WebSocket');
    await alice.locator('[data-testid="message"][data-user="Bob"]', { hasText: 'hello over a WebSocket' }).waitFor();
    await alice.context().close();
    await bob.context().close();
    assert.deepEqual(pageErrors.map(String), []);
  } finally {
    await proxy.close();
    await dev.stop();
  }
});

test('behind a proxy that refuses WebSockets and holds responses until they end the page falls back to long-polling', { timeout: 60000 }, async () => {
  const dev = await SwitchboardNode.start({ anonymous: false, args: ['--dev', '--poll-timeout', '5'] });
  const proxy = await startBufferingProxy(dev.port);
  try {
    const room = `chat:poll-${process.pid}`;
    const alice = await openPage({}, `http://127.0.0.1:${proxy.port}`); // the page itself loads through the proxy
    const bob = await openPage({}, dev.httpUrl);
    // WebSockets refused, then a stream that never shows a byte (given up at the client's
    // handshake timeout, 10 s), then polls.
    await byTestId(alice, 'name-input').fill('Alice');
    await byTestId(alice, 'room-input').fill(room);
    await byTestId(alice, 'join-button').click();
    await alice.locator('[data-testid="conn-state"][data-transport="poll"][data-state="connected"]').waitFor({ timeout: 40000 });
    await join(bob, 'Bob', room);
    await bob.locator('[data-testid="conn-state"][data-transport="websocket"]').waitFor();
    assert.ok(proxy.upgradesRefused >= 1, `${proxy.upgradesRefused} upgrades refused`);
    assert.ok((proxy.requests.get('/sse') ?? 0) >= 1, 'a stream was tried');
    // Presence, messages and typing both ways.
    await alice.locator('[data-testid="presence-user"][data-user="Bob"]').waitFor();
    await bob.locator('[data-testid="presence-user"][data-user="Alice"]').waitFor();
    await say(alice, 'hello by polling');
    await bob.locator('[data-testid="message"][data-user="Alice"]', { hasText: 'hello by polling' }).waitFor();
    await message(alice, 'hello by polling').and(alice.locator('[data-state="delivered"]')).waitFor();
    await byTestId(bob, 'message-input').pressSequentially('Hi Al', { delay: 10 });
    await byTestId(alice, 'typing-indicator').filter({ hasText: 'Bob is typing…' }).waitFor();
    await say(bob, 'hello over a WebSocket');
    await alice.locator('[data-testid="message"][data-user="Bob"]', { hasText: 'hello over a WebSocket' }).waitFor();
    await alice.context().close();
    await bob.context().close();
    assert.deepEqual(pageErrors.map(String), []);
  } finally {
    await proxy.close();
    await dev.stop();
  }
});

test('on a node that neither hands out tokens nor allows anonymous clients the page says why it cannot connect', { timeout: 30000 }, async () => {
  const strict = await SwitchboardNode.start({ anonymous: false, env: { SWITCHBOARD_JWT_SECRET: 'a-secret-the-page-does-not-have' } });
  try {
    const page = await openPage({}, strict.httpUrl);
    await byTestId(page, 'name-input').fill('Alice');
    await byTestId(page, 'room-input').fill(`chat:strict-${process.pid}`);
    await byTestId(page, 'join-button').click();
    await page.locator('[data-testid="conn-state"][data-refused="missing_token"]').waitFor();
    await byTestId(page, 'conn-state').filter({ hasText: 'start it with --dev' }).waitFor();
    await page.context().close();
    assert.deepEqual(pageErrors.map(String), []);
  } finally {
    await strict.stop();
  }
});

test('in the browser, bytes go as binary frames and come back as a Uint8Array', { timeout: 30000 }, async () => {
  const page = await openPage();
  const got = await page.evaluate(async (room) => {
    const { Switchboard } = await import('/switchboard.js');
    const client = new Switchboard('/ws').connect();
    try {
      const subscription = client.subscribe(room);
      await new Promise((resolve) => subscription.once('subscribed', resolve));
      const received = new Promise((resolve) => subscription.once('message', resolve));
      const ack = await subscription.publish(Uint8Array.from([0, 10, 255, 128, 1]));
      const message = await received;
      const history = await subscription.history();
      return {
        ack,
        bytes: message.data instanceof Uint8Array, data: [...message.data],
        history: [...history.messages[0].data],
      };
    } finally {
      client.disconnect();
    }
  }, `files:browser-${process.pid}`);
  assert.deepEqual(got, { ack: { offset: 1 }, bytes: true, data: [0, 10, 255, 128, 1], history: [0, 10, 255, 128, 1] });
  await page.context().close();
  assert.deepEqual(pageErrors.map(String), []);
});

test('Chromium negotiates permessage-deflate: long messages cross compressed both ways, short ones plain', { timeout: 30000 }, async () => {
  const page = await openPage();
  const metric = async (name) => {
    const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
    return Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))[1]);
  };
  const sentBefore = await metric('switchboard_deflate_frames_sent_total');
  const receivedBefore = await metric('switchboard_deflate_frames_received_total');
  const long = Array.from({ length: 400 }, (_, i) => `word${i % 30}`).join(' ');
  const got = await page.evaluate(async ({ room, long }) => {
    const { Switchboard } = await import('/switchboard.js');
    const client = new Switchboard('/ws').connect();
    try {
      const subscription = client.subscribe(room);
      await new Promise((resolve) => subscription.once('subscribed', resolve));
      const messages = [];
      const both = new Promise((resolve) => subscription.on('message', (m) => { messages.push(m.data); if (messages.length === 2) resolve(); }));
      await subscription.publish(long);
      await subscription.publish('short');
      await both;
      // What the browser agreed with the node, from a WebSocket of its own on the same page.
      const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/ws`);
      await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
      const extensions = socket.extensions;
      socket.close();
      return { messages, extensions };
    } finally {
      client.disconnect();
    }
  }, { room: `zip:browser-${process.pid}`, long });
  assert.deepEqual(got.messages, [long, 'short']);
  assert.equal(got.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  // The long push went compressed (the short one and the replies did not). Chromium compresses
  // what it sends when that makes it smaller: at least the long publish.
  const deadline = Date.now() + WAIT;
  while (await metric('switchboard_deflate_frames_sent_total') !== sentBefore + 1) {
    assert.ok(Date.now() < deadline, 'the long push was not sent compressed');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(await metric('switchboard_deflate_frames_received_total') >= receivedBefore + 1);
  await page.context().close();
  assert.deepEqual(pageErrors.map(String), []);
});
