// The SDK against a real node (anonymous): requests and acks, error codes, presence, restarts,
// the heartbeat, the offline queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SwitchboardError } from '../switchboard.js';
import { SwitchboardNode, OwnNode, clientOpener, startProxy, next, record, inbox, within, connected, signJwt } from './support/helpers.js';

let node;
const open = clientOpener(() => node.wsUrl);

before(async () => { node = await SwitchboardNode.start(); });
after(async () => { await node?.stop(); });

test('publish resolves on the ack and the subscriber receives the message', { timeout: 10000 }, async () => {
  const a = await connected(open());
  const b = await connected(open());
  const roomA = a.subscribe('chat:acks');
  const roomB = b.subscribe('chat:acks');
  await Promise.all([next(roomA, 'subscribed'), next(roomB, 'subscribed')]);
  assert.equal(roomA.state, 'subscribed');
  const got = inbox(roomB);
  const mine = inbox(roomA);

  const result = await roomA.publish({ kind: 'chat', text: 'hello', n: 2.50 });
  assert.deepEqual(result, { offset: 1 }, 'the ack is the message\'s offset in the room');
  const [m] = await got.waitFor(1);
  assert.equal(m.offset, result.offset);
  assert.deepEqual(m.data, { kind: 'chat', n: 2.5, text: 'hello' });
  assert.equal(m.room, 'chat:acks');
  assert.match(m.from, /^anon-[0-9a-f]{16}$/);
  const [own] = await mine.waitFor(1);
  assert.equal(own.from, m.from, 'the publisher receives its own message with its user id');

  // Publishing does not need a subscription, and any JSON value is data.
  await b.publish('chat:acks', null);
  await b.publish('elsewhere:nobody', [1, 'two']);
  assert.deepEqual((await got.waitFor(2))[1].data, null);
  assert.ok(await a.ping() >= 0);
});

test('bytes are published and received as bytes, over a WebSocket and over Server-Sent Events', { timeout: 10000 }, async () => {
  const ws = await connected(open());
  const sse = await connected(open(undefined, { transports: ['sse'] }));
  assert.equal(sse.transport, 'sse');
  const onWs = ws.subscribe('files:bytes');
  const onSse = sse.subscribe('files:bytes');
  await Promise.all([next(onWs, 'subscribed'), next(onSse, 'subscribed')]);
  const gotWs = inbox(onWs);
  const gotSse = inbox(onSse);

  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
  const buffer = new ArrayBuffer(3000);
  new Uint8Array(buffer).forEach((_, i, all) => { all[i] = (i * 7) & 0xff; });
  assert.deepEqual(await onWs.publish(png), { offset: 1 }); // a binary frame
  assert.deepEqual(await onSse.publish(buffer), { offset: 2 }); // {"$binary":…} through the HTTP API
  assert.deepEqual(await ws.publish('files:bytes', new Uint16Array([1, 2])), { offset: 3 }); // any view
  png[0] = 0; // taken when published: changing it afterwards changes nothing
  const expected = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]),
    new Uint8Array(buffer),
    new Uint8Array(new Uint16Array([1, 2]).buffer),
  ];
  for (const box of [gotWs, gotSse]) {
    const messages = await box.waitFor(3);
    for (const [i, m] of messages.entries()) {
      assert.ok(m.data instanceof Uint8Array, `message ${i + 1} is bytes`);
      assert.deepEqual([...m.data], [...expected[i]]);
      assert.equal(m.offset, i + 1);
    }
  }
  // History hands them back as bytes too, and JSON stays JSON.
  await ws.publish('files:bytes', { name: 'x', $binary: 'not first' }); // ordinary data
  const history = await onSse.history();
  assert.deepEqual(history.messages.map((m) => m.data instanceof Uint8Array), [true, true, true, false]);
  assert.deepEqual([...history.messages[1].data], [...expected[1]]);
  assert.deepEqual(history.messages[3].data, { name: 'x', $binary: 'not first' });
  // Data that begins {"$binary": but is not exactly bytes in base64 is refused by the node.
  await assert.rejects(ws.publish('files:bytes', { $binary: 'not base64' }), { code: 'bad_request' });
  await assert.rejects(ws.publish('files:bytes', { $binary: 'aGk=', name: 'x' }), { code: 'bad_request' });
});

test('protocol errors reject with their code and the connection stays', { timeout: 10000 }, async () => {
  const c = await connected(open());
  const room = c.subscribe('chat:errors');
  await next(room, 'subscribed');

  await assert.rejects(c.publish('chat lobby', { text: 'x' }), (err) => {
    assert.ok(err instanceof SwitchboardError);
    assert.equal(err.code, 'bad_room');
    assert.equal(err.room, 'chat lobby');
    assert.equal(err.op, 'publish');
    assert.ok(err.message.length > 0);
    return true;
  });
  await assert.rejects(c.publish('chat:errors', undefined), { code: 'bad_request' }); // data is required
  await assert.rejects(c.presence('bad#room'), { code: 'bad_room' });

  // A bad room to subscribe to ends that room: error, then unsubscribed; it is not retried.
  const bad = c.subscribe('no spaces allowed');
  const events = record(bad, ['error', 'unsubscribed', 'subscribed']);
  await next(bad, 'unsubscribed');
  assert.deepEqual(events.map(([e]) => e), ['error', 'unsubscribed']);
  assert.equal(events[0][1].code, 'bad_room');
  assert.equal(events[1][1].code, 'bad_room');
  assert.equal(bad.state, 'unsubscribed');
  assert.deepEqual(c.rooms.map((r) => r.name), ['chat:errors']);

  // Still connected and subscribed: our own message arrives.
  const box = inbox(room);
  await room.publish('still here');
  assert.equal((await box.waitFor(1))[0].data, 'still here');
  assert.equal(c.state, 'connected');
});

test('an error the node could not match to a request is a client error event', { timeout: 10000 }, async () => {
  const sockets = [];
  class Spy extends WebSocket {
    constructor(url) { super(url); sockets.push(this); }
  }
  const c = await connected(open(undefined, { WebSocket: Spy }));
  const error = next(c, 'error');
  sockets.at(-1).send('hello?'); // not JSON: bad_json, which never has an id
  const err = await error;
  assert.equal(err.code, 'bad_json');
  assert.equal(c.state, 'connected');
  await c.ping();
});

test('publishing while disconnected rejects at once', { timeout: 5000 }, async () => {
  const c = open();
  await assert.rejects(c.publish('chat:x', 1), { code: 'disconnected' });
  await assert.rejects(c.subscribe('chat:x').publish(1), { code: 'disconnected' });
  await assert.rejects(c.presence('chat:x'), { code: 'disconnected' });
  // In flight when disconnect() is called.
  await connected(c);
  const pending = c.publish('chat:x', 2);
  c.disconnect();
  await assert.rejects(pending, { code: 'disconnected' });
  assert.equal(c.state, 'disconnected');
});

test('presence: the list, join and leave events, per user', { timeout: 10000 }, async () => {
  const watcher = await connected(open());
  const room = watcher.subscribe('chat:presence', { presence: true });
  const [, selfJoin] = await Promise.all([next(room, 'subscribed'), next(room, 'join')]);
  const me = selfJoin.user;
  assert.match(me, /^anon-/);
  assert.deepEqual(selfJoin.info, {});

  const other = await connected(open());
  const joined = next(room, 'join');
  const otherRoom = other.subscribe('chat:presence'); // presence flag off: it is present, gets no events
  const [joinEvent] = await Promise.all([joined, next(otherRoom, 'subscribed')]);
  assert.equal(joinEvent.room, 'chat:presence');

  const users = await room.presence();
  assert.deepEqual(users.map((u) => u.user), [me, joinEvent.user].sort());
  for (const u of users) { assert.equal(u.conns, 1); assert.deepEqual(u.info, {}); }
  assert.deepEqual(await other.presence('chat:presence'), users);

  const left = next(room, 'leave');
  await otherRoom.unsubscribe();
  assert.equal((await left).user, joinEvent.user);
  assert.deepEqual((await room.presence()).map((u) => u.user), [me]);

  // Disconnecting leaves too.
  const third = await connected(open());
  const joined3 = next(room, 'join');
  third.subscribe('chat:presence');
  const { user: thirdUser } = await joined3;
  const left3 = next(room, 'leave');
  third.disconnect();
  assert.equal((await left3).user, thirdUser);
});

test('after a node restart every room is resubscribed, with its presence flag', { timeout: 20000 }, async () => {
  const own = await OwnNode.start();
  try {
    const c = open(own.wsUrl);
    const log = record(c, ['connecting', 'connected', 'disconnected', 'reconnecting']);
    await connected(c);
    const lobby = c.subscribe('chat:restart', { presence: true });
    const news = c.subscribe('news:restart');
    await Promise.all([next(lobby, 'subscribed'), next(news, 'subscribed'), next(lobby, 'join')]);

    const disconnected = next(c, 'disconnected');
    const resubscribed = Promise.all([
      next(lobby, 'subscribed', { timeout: 15000 }),
      next(news, 'subscribed', { timeout: 15000 }),
    ]);
    const selfJoin = next(lobby, 'join', { timeout: 15000 });
    const { code } = await own.stop();
    assert.equal(code, 0, 'the node exits 0 on SIGTERM');
    const closed = await disconnected;
    assert.equal(closed.code, 1001, 'the node closes with 1001 going away');
    assert.equal(closed.willReconnect, true);

    await own.restart();
    const [a, b] = await resubscribed;
    assert.equal(a.resubscribed, true);
    assert.equal(b.resubscribed, true);
    // The restarted node has a new history: what the rooms showed cannot be brought up to date.
    assert.equal(a.recovered, false);
    assert.equal(b.recovered, false);
    await selfJoin; // presence:true was sent again: our own join arrives
    assert.equal(c.state, 'connected');
    assert.ok(log.some(([e]) => e === 'reconnecting'));
    assert.deepEqual(log.filter(([e]) => e === 'connected').map(([, x]) => x.reconnected), [false, true]);

    // Both rooms deliver again, through the new node.
    const other = await connected(open(own.wsUrl));
    const box = inbox(news);
    await other.publish('news:restart', { n: 1 });
    assert.deepEqual((await box.waitFor(1))[0].data, { n: 1 });
    const users = await lobby.presence();
    assert.equal(users.length, 1);
  } finally {
    await own.close();
  }
});

test('messages published while the network was down are recovered on reconnect, in order, once', { timeout: 20000 }, async () => {
  const proxy = await startProxy(node.port);
  try {
    const c = await connected(open(`ws://127.0.0.1:${proxy.port}/ws`));
    const room = c.subscribe('chat:recover');
    const first = await next(room, 'subscribed');
    assert.equal(first.recovered, undefined);
    assert.equal(first.position.offset, 0);
    const box = inbox(room);
    const publisher = await connected(open());
    await publisher.publish('chat:recover', 0);
    assert.equal((await box.waitFor(1))[0].offset, 1);
    assert.deepEqual(room.position, { offset: 1, epoch: first.position.epoch });

    const gone = next(c, 'disconnected');
    proxy.down();
    await gone;
    for (let n = 1; n <= 50; n++) await publisher.publish('chat:recover', n); // each acked
    const back = next(room, 'subscribed', { timeout: 10000 });
    proxy.up();
    const again = await back;
    assert.equal(again.resubscribed, true);
    assert.equal(again.recovered, true);
    const got = await box.waitFor(51);
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: 51 }, (_, i) => i));
    assert.deepEqual(got.map((m) => m.offset), Array.from({ length: 51 }, (_, i) => i + 1));
    await publisher.publish('chat:recover', 51);
    assert.equal((await box.waitFor(52))[51].offset, 52);
    assert.equal(box.items.length, 52, 'nothing twice');

    const { messages, position } = await room.history({ limit: 2 });
    assert.deepEqual(messages.map((m) => m.data), [50, 51]);
    assert.deepEqual(position, { offset: 52, epoch: first.position.epoch });
  } finally {
    await proxy.close();
  }
});

test('the heartbeat detects a dead connection and reconnects', { timeout: 15000 }, async () => {
  const proxy = await startProxy(node.port);
  try {
    const c = open(`ws://127.0.0.1:${proxy.port}/ws`, { heartbeatInterval: 150, heartbeatTimeout: 300 });
    await connected(c);
    const room = c.subscribe('chat:heartbeat');
    await next(room, 'subscribed');
    // Idle but alive: the pings are answered, nothing is dropped.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(c.state, 'connected');

    const started = performance.now();
    const dead = next(c, 'disconnected', { timeout: 5000 });
    const resubscribed = next(room, 'subscribed', { timeout: 10000 });
    proxy.freeze(); // the network goes silent; no close, no error
    const closed = await dead;
    const took = performance.now() - started;
    assert.equal(closed.reason, 'heartbeat timeout');
    assert.equal(closed.code, 1006);
    assert.ok(took >= 300 && took < 2000, `declared dead after ${Math.round(took)} ms`);
    assert.equal((await resubscribed).resubscribed, true);
    assert.equal(c.state, 'connected');
  } finally {
    await proxy.close();
  }
});

test('a request without a reply times out', { timeout: 10000 }, async () => {
  const proxy = await startProxy(node.port);
  try {
    const c = await connected(open(`ws://127.0.0.1:${proxy.port}/ws`, { heartbeatInterval: 0, requestTimeout: 300 }));
    proxy.freeze();
    await assert.rejects(c.publish('chat:timeout', 1), { code: 'timeout', op: 'publish' });
    await assert.rejects(c.presence('chat:timeout'), { code: 'timeout' });
  } finally {
    await proxy.close();
  }
});

test('with the offline queue, a publish whose connection is lost before the ack goes again with its key and is delivered once', { timeout: 20000 }, async () => {
  // Keys are per publisher: the publisher is a user of its own (a token), the same after the reconnect.
  const secret = 'idem-test-secret-0123456789';
  const own = await OwnNode.start({ env: { SWITCHBOARD_JWT_SECRET: secret } });
  const proxy = await startProxy(own.port);
  try {
    const watcher = await connected(open(own.wsUrl));
    const watched = watcher.subscribe('chat:idem');
    await next(watched, 'subscribed');
    const box = inbox(watched);

    const token = signJwt({ sub: 'ada', exp: Math.floor(Date.now() / 1000) + 600 }, secret);
    const c = await connected(open(`ws://127.0.0.1:${proxy.port}/ws`, { token, offlineQueue: { max: 5 }, heartbeatInterval: 0 }));
    // The node takes the publish, and its ack is lost with the connection.
    proxy.muteReplies();
    const sent = c.publish('chat:idem', { n: 1 });
    const [first] = await box.waitFor(1);
    assert.deepEqual(first.data, { n: 1 });
    proxy.down();
    proxy.up();
    // Sent again after the reconnect with the same key: the first ack, nothing delivered twice.
    const ack = await within(10000, sent, 'the publish sent again');
    assert.equal(ack.offset, first.offset);
    const after = await c.publish('chat:idem', { n: 2 });
    assert.equal(after.offset, first.offset + 1);
    const got = await box.waitFor(2);
    assert.deepEqual(got.map((m) => m.data.n), [1, 2]);

    // An application's own key: a retry it makes gets the first ack; another publisher's key is its own.
    const mine = await c.publish('chat:idem', { n: 3 }, { idem: 'order-3' });
    assert.deepEqual(await c.subscribe('chat:idem').publish({ n: 3 }, { idem: 'order-3' }), mine);
    const theirs = await watched.publish({ n: 4 }, { idem: 'order-3' });
    assert.equal(theirs.offset, mine.offset + 1);
    assert.deepEqual((await box.waitFor(4)).map((m) => m.data.n), [1, 2, 3, 4]);
    await assert.rejects(c.publish('chat:idem', 1, { idem: 'no spaces' }), { code: 'bad_request' });
  } finally {
    await proxy.close();
    await own.close();
  }
});

test('with the offline queue, a publish whose every send loses the connection is rejected after two more', { timeout: 20000 }, async () => {
  const own = await OwnNode.start({ args: ['--max-message-size', '1024'] });
  try {
    const c = await connected(open(own.wsUrl, { offlineQueue: { max: 5 } }));
    const log = record(c, ['disconnected']);
    // Too large: the node closes the connection (1009) each time it is sent.
    await assert.rejects(within(10000, c.publish('chat:big', 'x'.repeat(4096)), 'the large publish'), { code: 'disconnected' });
    assert.deepEqual(log.map(([, e]) => e.code), [1009, 1009, 1009]);
    // The next publish goes once the client is back.
    assert.equal(typeof (await within(10000, c.publish('chat:big', 'small'), 'a publish after it')).offset, 'number');
  } finally {
    await own.close();
  }
});

test('the offline queue keeps the newest publishes and sends them after the resubscribe', { timeout: 20000 }, async () => {
  const own = await OwnNode.start();
  try {
    const c = open(own.wsUrl, { offlineQueue: { max: 2 } });
    await connected(c);
    const room = c.subscribe('chat:queue');
    await next(room, 'subscribed');
    const box = inbox(room);

    const reconnecting = next(c, 'reconnecting');
    await own.stop();
    await reconnecting;
    assert.notEqual(c.state, 'connected');
    const p1 = room.publish({ n: 1 });
    const p2 = room.publish({ n: 2 });
    const p3 = room.publish({ n: 3 });
    await assert.rejects(p1, { code: 'queue_full' });
    assert.equal(c.queued, 2);

    await own.restart();
    await within(10000, Promise.all([p2, p3]), 'queued publishes');
    // Sent after the resubscribe: the client receives its own queued messages, in order.
    const got = await box.waitFor(2);
    assert.deepEqual(got.map((m) => m.data.n), [2, 3]);
    assert.equal(c.queued, 0);

    // disconnect() rejects what is still queued.
    c.disconnect();
    const p4 = room.publish({ n: 4 });
    await assert.rejects(p4, { code: 'disconnected' }); // not started: no queueing
    c.connect();
    const stopped = next(c, 'reconnecting', { timeout: 10000 });
    await own.stop();
    await stopped;
    const p5 = room.publish({ n: 5 });
    c.disconnect();
    await assert.rejects(p5, { code: 'disconnected' });
  } finally {
    await own.close();
  }
});

test('subscribing again updates the presence flag; unsubscribe stops delivery', { timeout: 10000 }, async () => {
  const c = await connected(open());
  const room = c.subscribe('chat:flags');
  await next(room, 'subscribed');
  assert.equal(c.subscribe('chat:flags'), room, 'the same name gives the same room');
  const join = next(room, 'join');
  assert.equal(c.subscribe('chat:flags', { presence: true }), room);
  assert.equal(room.presenceEvents, true);
  await next(room, 'subscribed');
  // Our own join is not sent again (we were present already); another user's is.
  const other = await connected(open());
  other.subscribe('chat:flags');
  assert.match((await join).user, /^anon-/);

  const unsub = next(room, 'unsubscribed');
  await room.unsubscribe();
  assert.deepEqual(await unsub, { room: 'chat:flags' });
  assert.equal(room.state, 'unsubscribed');
  assert.deepEqual(c.rooms, []);
  let delivered = 0;
  room.on('message', () => delivered++);
  const probe = c.subscribe('chat:flags-probe');
  await next(probe, 'subscribed');
  const probeBox = inbox(probe);
  await other.publish('chat:flags', 'after unsubscribe');
  await other.publish('chat:flags-probe', 'marker');
  await probeBox.waitFor(1); // the node handles one publisher's frames in order
  assert.equal(delivered, 0);
});
