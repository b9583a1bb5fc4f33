// The SDK over Server-Sent Events and the HTTP API, against a real node: forced with
// transports: ['sse'], and reached by falling back when a proxy refuses WebSocket upgrades.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardNode, OwnNode, clientOpener, startProxy, next, record, inbox, connected, signJwt } from './support/helpers.js';

const SECRET = 'sse-test-secret-0123456789abcdef';
const tokenFor = (sub) => signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET);

let node;
const open = clientOpener(() => node.wsUrl);

// Anonymous clients, and clients with tokens.
before(async () => { node = await SwitchboardNode.start({ args: ['--sse-keepalive', '1', '--jwt-secret', SECRET] }); });
after(async () => { await node?.stop(); });

test('over Server-Sent Events: subscribe, publish, presence, history, unsubscribe, ping', { timeout: 15000 }, async () => {
  // The token goes in an Authorization header, to the stream and to the HTTP API alike.
  const sse = await connected(open(undefined, { transports: ['sse'], getToken: () => tokenFor('sam') }));
  assert.equal(sse.transport, 'sse');
  const ws = await connected(open());
  assert.equal(ws.transport, 'websocket');

  const room = sse.subscribe('chat:sse', { presence: true });
  const [subscribed, selfJoin] = await Promise.all([next(room, 'subscribed'), next(room, 'join')]);
  assert.equal(subscribed.resubscribed, false);
  assert.equal(typeof subscribed.position.epoch, 'string');
  const box = inbox(room);

  // A WebSocket publisher reaches the stream, and the stream's publishes (HTTP) reach both.
  const wsRoom = ws.subscribe('chat:sse');
  const joined = next(room, 'join');
  await next(wsRoom, 'subscribed');
  assert.equal(selfJoin.user, 'sam');
  assert.notEqual((await joined).user, 'sam');
  const wsBox = inbox(wsRoom);
  await ws.publish('chat:sse', { n: 1 });
  await room.publish({ n: 2 });
  const got = await box.waitFor(2);
  assert.deepEqual(got.map((m) => m.data), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(got.map((m) => m.offset), [1, 2]);
  assert.equal(got[1].from, 'sam', 'an HTTP publish is sent as the token\'s user');
  assert.deepEqual((await wsBox.waitFor(2)).map((m) => m.data), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(room.position.offset, 2);

  const users = await room.presence();
  assert.equal(users.length, 2);
  const history = await room.history({ limit: 1 });
  assert.deepEqual(history.messages.map((m) => m.data), [{ n: 2 }]);
  assert.equal(history.position.offset, 2);
  await assert.rejects(sse.publish('no spaces', 1), { code: 'bad_room' });
  // A bad name fails that one subscribe, not the stream (a comma would split it in the URL).
  const bad = sse.subscribe('a,b');
  bad.on('error', () => {});
  assert.equal((await next(bad, 'unsubscribed')).code, 'bad_room');
  assert.equal(sse.state, 'connected');
  assert.ok(await sse.ping() >= 0, 'a ping is answered by the stream\'s next bytes (a keep-alive)');

  // A second room opens the stream again: the first one misses nothing meanwhile.
  const other = sse.subscribe('news:sse');
  const publishing = (async () => { for (let i = 3; i <= 12; i++) await ws.publish('chat:sse', { n: i }); })();
  await next(other, 'subscribed');
  await publishing;
  const all = await box.waitFor(12);
  assert.deepEqual(all.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

  await room.unsubscribe();
  await ws.publish('chat:sse', { n: 13 });
  const otherBox = inbox(other);
  await ws.publish('news:sse', 'after');
  assert.equal((await otherBox.waitFor(1))[0].data, 'after');
  assert.equal(box.items.length, 12, 'nothing of a room after its unsubscribe');
});

test('over Server-Sent Events, messages missed while the network was down are recovered', { timeout: 20000 }, async () => {
  const proxy = await startProxy(node.port);
  try {
    const c = await connected(open(`ws://127.0.0.1:${proxy.port}/ws`, { transports: ['sse'] }));
    const publisher = await connected(open());
    const room = c.subscribe('chat:sse-recover');
    await next(room, 'subscribed');
    const box = inbox(room);
    await publisher.publish('chat:sse-recover', 0);
    await box.waitFor(1);

    const lost = next(c, 'disconnected');
    proxy.down();
    assert.equal((await lost).willReconnect, true);
    for (let i = 1; i <= 20; i++) await publisher.publish('chat:sse-recover', i);
    const back = next(room, 'subscribed', { timeout: 10000 });
    proxy.up();
    assert.equal((await back).recovered, true);
    const got = await box.waitFor(21);
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: 21 }, (_, i) => i));
  } finally {
    await proxy.close();
  }
});

test('a client behind a proxy that refuses WebSockets falls back to Server-Sent Events', { timeout: 20000 }, async () => {
  const proxy = await startProxy(node.port, { blockWebSockets: true });
  try {
    const c = open(`ws://127.0.0.1:${proxy.port}/ws`, { fallbackAfter: 2 });
    const log = record(c, ['connecting', 'connected', 'disconnected']);
    await connected(c);
    assert.equal(c.transport, 'sse');
    assert.equal(proxy.upgradesRefused, 2);
    assert.deepEqual(log.filter(([e]) => e === 'connected').map(([, x]) => x.transport), ['sse']);
    const room = c.subscribe('chat:fallback');
    await next(room, 'subscribed');
    const box = inbox(room);
    const direct = await connected(open());
    await direct.publish('chat:fallback', 'through the proxy');
    await room.publish('and back');
    assert.deepEqual((await box.waitFor(2)).map((m) => m.data), ['through the proxy', 'and back']);
  } finally {
    await proxy.close();
  }
});

test('after a Server-Sent Events connection ends, the next attempt tries WebSocket again', { timeout: 20000 }, async () => {
  const own = await OwnNode.start();
  try {
    const c = open(own.wsUrl, { transports: ['websocket', 'sse'], fallbackAfter: 1 });
    const log = record(c, ['connected']);
    await connected(c);
    assert.equal(c.transport, 'websocket');
    const lost = next(c, 'disconnected');
    await own.stop();
    await lost;
    // While the node is away, a failed WebSocket attempt is followed by a Server-Sent Events
    // one (fallbackAfter: 1), and that by a WebSocket one again.
    await next(c, 'connecting', { predicate: () => c.transport === 'sse', timeout: 5000 });
    await next(c, 'connecting', { predicate: () => c.transport === 'websocket', timeout: 5000 });
    await own.restart();
    await next(c, 'connected', { timeout: 10000 });
    assert.equal(log.length, 2);
  } finally {
    await own.close();
  }
});

test('a quiet stream stays connected: the node\'s keep-alives count as traffic for the heartbeat', { timeout: 15000 }, async () => {
  // The node sends a keep-alive every second; the heartbeat would ping after 1.5 s of silence
  // and give up 0.3 s later, sooner than the next keep-alive could answer it.
  const c = await connected(open(undefined, { transports: ['sse'], heartbeatInterval: 1500, heartbeatTimeout: 300 }));
  const log = record(c, ['disconnected']);
  const room = c.subscribe('chat:quiet');
  await next(room, 'subscribed');
  await new Promise((resolve) => setTimeout(resolve, 4000)); // silence is what is being tested
  assert.deepEqual(log, []);
  assert.equal(c.state, 'connected');
});
