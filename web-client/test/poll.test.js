// The SDK over long-polling and the HTTP API, against a real node: forced with
// transports: ['poll'], and reached by falling back behind a proxy that refuses WebSocket
// upgrades and holds every response until it ends (a stream never shows a byte there).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardNode, OwnNode, clientOpener, startBufferingProxy, next, record, inbox, connected, signJwt } from './support/helpers.js';

const SECRET = 'poll-test-secret-0123456789abcdef';
const tokenFor = (sub) => signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET);

let node;
const open = clientOpener(() => node.wsUrl);

// A held poll is answered within 2 s, well inside the heartbeats below; a session left alone
// ends after 1 s.
before(async () => { node = await SwitchboardNode.start({ args: ['--poll-timeout', '2', '--poll-grace', '1', '--jwt-secret', SECRET] }); });
after(async () => { await node?.stop(); });

test('over long-polling: subscribe, publish, presence, history, unsubscribe, ping', { timeout: 20000 }, async () => {
  const poller = await connected(open(undefined, { transports: ['poll'], getToken: () => tokenFor('pia') }));
  assert.equal(poller.transport, 'poll');
  const ws = await connected(open());

  const room = poller.subscribe('chat:poll', { presence: true });
  const [subscribed, selfJoin] = await Promise.all([next(room, 'subscribed'), next(room, 'join')]);
  assert.equal(subscribed.resubscribed, false);
  assert.equal(typeof subscribed.position.epoch, 'string');
  assert.equal(selfJoin.user, 'pia');
  const box = inbox(room);

  const wsRoom = ws.subscribe('chat:poll', { presence: true });
  const joined = next(room, 'join');
  await next(wsRoom, 'subscribed');
  assert.notEqual((await joined).user, 'pia');
  const wsBox = inbox(wsRoom);
  await ws.publish('chat:poll', { n: 1 });
  await room.publish({ n: 2 });
  const got = await box.waitFor(2);
  assert.deepEqual(got.map((m) => m.data), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(got.map((m) => m.offset), [1, 2]);
  assert.equal(got[1].from, 'pia');
  assert.deepEqual((await wsBox.waitFor(2)).map((m) => m.data), [{ n: 1 }, { n: 2 }]);

  assert.equal((await room.presence()).length, 2);
  assert.deepEqual((await room.history({ limit: 1 })).messages.map((m) => m.data), [{ n: 2 }]);
  assert.ok(await poller.ping() >= 0, 'a ping is answered by the next poll\'s answer');

  // A second room starts a new session from the last event id: nothing is missed meanwhile, and
  // the poller's presence does not flicker (the old session ends once the new one answered).
  const wsPresence = record(wsRoom, ['join', 'leave']);
  const other = poller.subscribe('news:poll');
  const otherBox = inbox(other);
  const publishing = (async () => { for (let i = 3; i <= 12; i++) await ws.publish('chat:poll', { n: i }); })();
  await next(other, 'subscribed');
  await publishing;
  const all = await box.waitFor(12);
  assert.deepEqual(all.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  await ws.publish('news:poll', 'news');
  assert.equal((await otherBox.waitFor(1))[0].data, 'news');
  assert.deepEqual(wsPresence, []);

  // Unsubscribing starts a session without the room, and the old one ends once the new one is
  // subscribed: the others see the poller leave at once, without waiting for the node's grace.
  const wsNews = ws.subscribe('news:poll', { presence: true });
  await next(wsNews, 'subscribed');
  const leftRoom = next(wsRoom, 'leave', { timeout: 900 });
  await room.unsubscribe();
  assert.equal((await leftRoom).user, 'pia');
  await ws.publish('chat:poll', { n: 13 });
  await ws.publish('news:poll', 'more');
  assert.deepEqual((await otherBox.waitFor(2)).map((m) => m.data), ['news', 'more']);
  assert.equal(box.items.length, 12, 'nothing of a room after its unsubscribe');

  // Disconnecting ends the session at once too.
  const left = next(wsNews, 'leave', { timeout: 900 });
  poller.disconnect();
  assert.equal((await left).user, 'pia');
});

test('a client behind a proxy that refuses WebSockets and holds responses until they end ends up polling', { timeout: 30000 }, async () => {
  const proxy = await startBufferingProxy(node.port);
  try {
    // The stream opens through the proxy only when it ends: the client gives up on it at its
    // handshake timeout (requestTimeout), and polls.
    const c = open(`ws://127.0.0.1:${proxy.port}/ws`, { fallbackAfter: 1, requestTimeout: 1500, heartbeatInterval: 3000, heartbeatTimeout: 1000 });
    const log = record(c, ['connecting', 'connected', 'disconnected']);
    const up = next(c, 'connected', { timeout: 15000 });
    c.connect();
    await up;
    assert.equal(c.transport, 'poll');
    assert.ok(proxy.upgradesRefused >= 1);
    assert.ok((proxy.requests.get('/sse') ?? 0) >= 1, 'a stream was tried');
    assert.deepEqual(log.filter(([e]) => e === 'connected').map(([, x]) => x.transport), ['poll']);
    const room = c.subscribe('chat:buffered');
    await next(room, 'subscribed');
    const box = inbox(room);
    const direct = await connected(open());
    await direct.publish('chat:buffered', 'through the proxy');
    await room.publish('and back');
    assert.deepEqual((await box.waitFor(2)).map((m) => m.data), ['through the proxy', 'and back']);
    // It stays: quiet polls (answered empty at the node's poll timeout) keep the heartbeat fed.
    await new Promise((resolve) => setTimeout(resolve, 4500)); // silence is what is being tested
    assert.equal(c.state, 'connected');
    assert.equal(c.transport, 'poll');
  } finally {
    await proxy.close();
  }
});

test('while polling, the client comes back after a node restart: its rooms resubscribed, their messages delivered', { timeout: 30000 }, async () => {
  const args = ['--poll-timeout', '2', '--poll-grace', '1'];
  const own = await OwnNode.start({ args });
  try {
    const c = open(own.wsUrl, { transports: ['poll'] });
    const log = record(c, ['connected']);
    await connected(c);
    const lobby = c.subscribe('chat:poll-restart', { presence: true });
    await Promise.all([next(lobby, 'subscribed'), next(lobby, 'join')]);
    const box = inbox(lobby);
    const before = await connected(open(own.wsUrl));
    await before.publish('chat:poll-restart', 'before');
    await box.waitFor(1);

    const disconnected = next(c, 'disconnected');
    const resubscribed = next(lobby, 'subscribed', { timeout: 20000 });
    await own.stop();
    // The held poll is answered with the node's close (1001), or the next one finds no node.
    assert.equal((await disconnected).willReconnect, true);
    await own.restart({ args });
    const again = await resubscribed;
    assert.equal(again.resubscribed, true);
    assert.equal(again.recovered, false); // the restarted node has a new history
    const after = await connected(open(own.wsUrl));
    await after.publish('chat:poll-restart', 'after');
    assert.deepEqual((await box.waitFor(2)).map((m) => m.data), ['before', 'after']);
    assert.deepEqual(log.map(([, x]) => [x.transport, x.reconnected]), [['poll', false], ['poll', true]]);
  } finally {
    await own.close();
  }
});
