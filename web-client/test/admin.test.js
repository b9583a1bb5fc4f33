// The operator dashboard (web-client/admin/, at /admin on a node started with --admin) in a real
// browser (Debian's Chromium driven by playwright-core) against a real node: a wrong key is
// refused with a visible message; signed in, the operator sees the connection count and the
// messages per second move as clients connect and publish, and the largest rooms; the page fits
// a desktop's and a phone's screen (screenshots in web-client/test-results/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SwitchboardNode, clientOpener, connected, next, webClientDir } from './support/helpers.js';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = 10000; // ms, any single wait on the page
const KEY = 'dashboard-test-key-0123456789';
const POLL = 250; // ms between the page's polls (?poll=), instead of 2 s
const results = path.join(webClientDir, 'test-results');

let node;
let browser;
const pageErrors = [];
const open = clientOpener(() => node.wsUrl);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install chromium (scripts/install-deps does)`);
  mkdirSync(results, { recursive: true });
  // The key through the environment, as the operator guide advises.
  node = await SwitchboardNode.start({ args: ['--admin'], env: { SWITCHBOARD_ADMIN_KEY: KEY } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await node?.stop();
  assert.deepEqual(pageErrors.map(String), [], 'the page threw no error');
});

async function openDashboard(options) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err));
  await page.goto(`${node.httpUrl}/admin?poll=${POLL}`);
  return page;
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);
const text = (page, id) => byTestId(page, id).textContent();

async function signIn(page, key) {
  await byTestId(page, 'key-input').fill(key);
  await byTestId(page, 'login-button').click();
}

// Waits until the page has polled `n` more times.
async function polled(page, n = 1) {
  const now = Number(await page.evaluate(() => document.body.dataset.polls || 0));
  await page.waitForFunction((want) => Number(document.body.dataset.polls || 0) >= want, now + n, { timeout: WAIT });
}

test('a wrong key is refused with a visible message and is not kept', { timeout: 30000 }, async () => {
  const page = await openDashboard({ viewport: { width: 1280, height: 800 } });
  await byTestId(page, 'login-form').waitFor();
  await signIn(page, `${KEY}-wrong`);
  const error = byTestId(page, 'login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /refused this key \(401\)/);
  assert.equal(await byTestId(page, 'dashboard').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused key is forgotten');
  assert.equal(await text(page, 'status'), 'Key refused');
  await page.screenshot({ path: path.join(results, 'admin-refused-desktop.png') });
  await page.context().close();
});

test('signed in, the dashboard follows connections and messages per second', { timeout: 45000 }, async () => {
  const page = await openDashboard({ viewport: { width: 1280, height: 800 } });
  await signIn(page, KEY);
  await page.locator('body[data-state="dashboard"]').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="connections"]').textContent === '0');
  assert.match(await text(page, 'nodes'), /this node/);
  // The key lives in the tab's sessionStorage, never in a cookie.
  assert.equal(await page.evaluate((k) => sessionStorage.getItem('switchboard-admin-key') === k, KEY), true);
  assert.deepEqual(await page.context().cookies(), []);

  // Three clients connect: two in one room, one in two.
  const clients = [await connected(open()), await connected(open()), await connected(open())];
  const busy = clients.map((c) => c.subscribe('ops:busy'));
  const quiet = clients[2].subscribe('ops:quiet');
  await Promise.all([...busy, quiet].map((room) => next(room, 'subscribed')));
  await page.waitForFunction(() => document.querySelector('[data-testid="connections"]').textContent === '3');
  await page.waitForFunction(() => document.querySelector('[data-testid="subscriptions"]').textContent === '4');

  // They publish until the page shows messages per second (each poll sees the messages published since the last).
  const rate = () => page.evaluate(() => Number(document.querySelector('[data-testid="messages-rate"]').textContent.replaceAll(',', '')));
  let sent = 0;
  const until = Date.now() + WAIT;
  while (!(await rate() > 0)) {
    assert.ok(Date.now() < until, 'the messages per second never rose above 0');
    await Promise.all(busy.map((room) => room.publish({ n: sent++ })));
    await polled(page);
  }
  assert.ok(Number((await text(page, 'deliveries-rate')).replaceAll(',', '')) > 0, 'deliveries per second rose too');
  // The largest rooms: ops:busy (3 subscribers) before ops:quiet (1).
  const rooms = byTestId(page, 'top-rooms').locator('tbody tr');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="top-rooms"] tbody tr').length === 2);
  assert.match(await rooms.nth(0).textContent(), /ops:busy\s*3/);
  assert.match(await rooms.nth(1).textContent(), /ops:quiet\s*1/);

  // A steady stream of messages for a few polls, so that the charts have a line to show.
  for (let i = 0; i < 6; i++) {
    await Promise.all(busy.map((room) => room.publish({ n: sent++ })));
    await polled(page);
  }
  await page.screenshot({ path: path.join(results, 'admin-desktop.png'), fullPage: true });

  // On a phone: everything in one column, nothing wider than the screen.
  const phone = await openDashboard({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await signIn(phone, KEY);
  await phone.locator('body[data-state="dashboard"]').waitFor();
  await polled(phone, 3);
  assert.equal(await text(phone, 'connections'), '3');
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'the dashboard is no wider than the phone');
  await phone.screenshot({ path: path.join(results, 'admin-phone.png'), fullPage: true });

  // The clients leave: the count goes back to 0. Signing out forgets the key.
  for (const c of clients) c.disconnect();
  await page.waitForFunction(() => document.querySelector('[data-testid="connections"]').textContent === '0');
  await byTestId(page, 'logout-button').click();
  await byTestId(page, 'login-form').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await phone.context().close();
  await page.context().close();
});
