// The modules of src/ on their own, without a node: the requests table, the transports behind
// their interface (a fake WebSocket, a fake fetch), the offline queue and a room's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard } from '../switchboard.js';
import { PendingRequests } from '../src/transport.js';
import { WebSocketTransport } from '../src/websocket-transport.js';
import { SseTransport } from '../src/sse-transport.js';
import { OfflineQueue } from '../src/offline-queue.js';
import { binaryFrame, copyBytes, fromJsonData, parseBinaryFrame, toJsonData } from '../src/binary.js';

// The events a transport reports, recorded; `opened` resolves on `open`.
function recorder() {
  const log = [];
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  const events = {
    open: () => { log.push(['open']); open(); },
    traffic: () => {},
    push: (m) => log.push(['push', m.type, m]),
    error: (err) => log.push(['error', err.code]),
    close: (code, reason) => log.push(['close', code, reason]),
  };
  return { log, opened, events };
}

test('pending requests: the reply settles its request, onOk first; timeouts, late errors, close', async () => {
  const late = [];
  const requests = new PendingRequests(1000, (err) => late.push(err.code));
  const sent = [];
  const order = [];
  const p = requests.request('subscribe', 'a', (id) => sent.push(id), { onOk: () => order.push('onOk') });
  p.then(() => order.push('resolved'));
  assert.equal(requests.resolve(sent[0], { offset: 1 }), true);
  assert.deepEqual(await p, { offset: 1 });
  assert.deepEqual(order, ['onOk', 'resolved']);
  assert.equal(requests.resolve(sent[0], {}), false, 'a late ok is dropped');
  requests.reject(99, { code: 'forbidden' });
  assert.deepEqual(late, ['forbidden'], 'a late error is reported');

  await assert.rejects(requests.request('ping', undefined, () => {}, { timeout: 5 }), { code: 'timeout', op: 'ping' });
  await assert.rejects(requests.request('publish', 'a', () => { throw new TypeError('cyclic'); }),
    { code: 'bad_request', room: 'a', op: 'publish' });
  const waiting = requests.request('history', 'b', () => {});
  requests.close();
  await assert.rejects(waiting, { code: 'disconnected', room: 'b', op: 'history' });
  await assert.rejects(requests.request('ping', undefined, () => {}), { code: 'disconnected' });
  requests.reject(1, { code: 'internal' });
  assert.deepEqual(late, ['forbidden'], 'nothing is reported once closed');
});

// A WebSocket that the test drives: `frames` are what the client sent.
class FakeWebSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.frames = [];
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeWebSocket.last = this;
  }
  send(frame) { this.frames.push(typeof frame === 'string' ? JSON.parse(frame) : frame); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  receive(obj) { this.onmessage?.({ data: JSON.stringify(obj) }); }
}

test('WebSocket transport: requests are frames with ids, matched with their replies; pushes and stray errors are reported', async () => {
  const { log, opened, events } = recorder();
  const t = new WebSocketTransport('ws://h/ws?token=t', FakeWebSocket, events, 1000);
  const ws = FakeWebSocket.last;
  await assert.rejects(t.publish('a', 1), { code: 'disconnected', op: 'publish' });
  ws.open();
  await opened;
  const order = [];
  const sub = t.subscribe('a', { presence: true, since: { offset: 3, epoch: 'e' } }, () => order.push('onOk'));
  const pub = t.publish('a', { text: 'hi' });
  assert.deepEqual(ws.frames, [
    { op: 'subscribe', id: 1, room: 'a', presence: true, since: { offset: 3, epoch: 'e' } },
    { op: 'publish', id: 2, room: 'a', data: { text: 'hi' } },
  ]);
  // The ok, and a message right behind it in the same read: onOk runs before the message.
  events.push = (m) => order.push(m.type);
  ws.receive({ id: 1, ok: true, offset: 3, epoch: 'e', recovered: true });
  ws.receive({ type: 'message', room: 'a', data: 1, offset: 4 });
  assert.deepEqual(order, ['onOk', 'message']);
  assert.deepEqual(await sub, { id: 1, ok: true, offset: 3, epoch: 'e', recovered: true });
  ws.receive({ id: 2, error: { code: 'rate_limited', message: 'slow down' } });
  await assert.rejects(pub, { code: 'rate_limited', room: 'a', op: 'publish' });
  ws.receive({ error: { code: 'bad_json', message: 'no' } });
  assert.deepEqual(log.at(-1), ['error', 'bad_json']);
  const ping = t.ping(1000);
  ws.onclose({ code: 1006, reason: '' });
  await assert.rejects(ping, { code: 'disconnected' });
  assert.deepEqual(log.at(-1), ['close', 1006, '']);
});

test('WebSocket transport: bytes go as a binary frame, header, newline, bytes; binary frames come back as pushes with bytes', async () => {
  const { log, opened, events } = recorder();
  const t = new WebSocketTransport('ws://h/ws', FakeWebSocket, events, 1000);
  const ws = FakeWebSocket.last;
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.open();
  await opened;
  // A view's own range goes, not its whole buffer.
  const pub = t.publish('photos', new DataView(Uint8Array.from([9, 1, 10, 2, 9]).buffer, 1, 3), 'k1');
  const [frame] = ws.frames;
  assert.ok(frame instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(frame), '{"op":"publish","id":1,"room":"photos","idem":"k1"}\n\x01\n\x02');
  ws.receive({ id: 1, ok: true, offset: 7 });
  assert.deepEqual(await pub, { id: 1, ok: true, offset: 7 });
  const header = new TextEncoder().encode('{"type":"message","room":"photos","from":"alice","offset":7}\n');
  const pushed = new Uint8Array(header.length + 2);
  pushed.set(header);
  pushed.set([10, 0], header.length);
  ws.onmessage({ data: pushed.buffer });
  const [, type, m] = log.at(-1);
  assert.equal(type, 'message');
  assert.deepEqual({ ...m, data: [...m.data] }, { type: 'message', room: 'photos', from: 'alice', offset: 7, data: [10, 0] });
  ws.onmessage({ data: new Uint8Array([1, 2]).buffer }); // no newline: not a push, ignored
  assert.equal(log.at(-1)[2], m);
});

test('binary data: JSON carries bytes as {"$binary":"<base64>"}, of exactly that one member', () => {
  assert.deepEqual(toJsonData(Uint8Array.from([104, 105])), { $binary: 'aGk=' });
  assert.deepEqual(toJsonData(new Uint8Array(0).buffer), { $binary: '' });
  assert.deepEqual(toJsonData({ text: 'hi' }), { text: 'hi' });
  assert.deepEqual([...fromJsonData({ $binary: 'aGk=' })], [104, 105]);
  for (const data of [{ $binary: 'aGk=', x: 1 }, { $binary: 3 }, 'aGk=', null, [1]]) assert.deepEqual(fromJsonData(data), data);
  const big = new Uint8Array(100000).map((_, i) => i & 0xff); // more than one chunk of characters
  assert.deepEqual(fromJsonData(toJsonData(big)), big);
  // A publish takes a copy, of a Node Buffer too (whose own slice() would share its memory).
  const buffer = Buffer.from([1, 2]);
  const copied = copyBytes(buffer);
  buffer[0] = 9;
  assert.deepEqual([...copied], [1, 2]);
  const frame = binaryFrame({ op: 'publish', room: 'r' }, Uint8Array.from([10]));
  const parsed = parseBinaryFrame(frame);
  assert.deepEqual({ ...parsed, data: [...parsed.data] }, { op: 'publish', room: 'r', data: [10] });
});

// A fetch that the test drives: streams of GET /sse it writes to, answers of the HTTP API.
function fakeFetch(answer) {
  const calls = [];
  const streams = [];
  const waiters = [];
  const fetch = async (url, init = {}) => {
    const call = { url: String(url), method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body };
    calls.push(call);
    if (!call.url.includes('/sse')) {
      const { status = 200, body } = answer(call);
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    }
    let controller;
    const body = new ReadableStream({ start(c) { controller = c; } });
    init.signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    const encoder = new TextEncoder();
    const stream = { call, write: (text) => controller.enqueue(encoder.encode(text)), end: () => controller.close() };
    streams.push(stream);
    waiters.splice(0).forEach((w) => w());
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  };
  // The stream number n (from 0), once opened.
  const stream = async (n) => {
    while (streams.length <= n) await new Promise((resolve) => waiters.push(resolve));
    return streams[n];
  };
  return { fetch, calls, stream };
}

test('SSE transport: a subscribe is answered by the new stream, requests by the HTTP API, pings by the stream', async () => {
  const node = fakeFetch((call) => (call.url.endsWith('/api/publish')
    ? (JSON.parse(call.body).room === 'a' ? { body: { offset: 7 } } : { status: 403, body: { error: { code: 'forbidden', message: 'no' } } })
    : { body: { users: [] } }));
  const { log, opened, events } = recorder();
  const t = new SseTransport('ws://node.test/ws', 'tok', node.fetch, events, 1000);
  const first = await node.stream(0);
  assert.equal(first.call.url, 'http://node.test/sse');
  assert.equal(first.call.headers.Authorization, 'Bearer tok');
  await opened;

  await assert.rejects(t.subscribe('bad room', { presence: false }, () => {}), { code: 'bad_room', op: 'subscribe' });
  const order = [];
  const sub = t.subscribe('a', { presence: true }, () => order.push('onOk'));
  const second = await node.stream(1);
  assert.equal(second.call.url, 'http://node.test/sse?rooms=a&presence=a');
  events.push = (m) => order.push(m.type);
  second.write('id: a=0.e1\ndata: {"type":"subscribed","room":"a","offset":0,"epoch":"e1"}\n\n'
    + 'id: a=1.e1\ndata: {"type":"message","room":"a","data":1,"from":"u","offset":1}\n\n');
  assert.deepEqual(await sub, { offset: 0, epoch: 'e1' });
  assert.deepEqual(order, ['onOk', 'message']);

  assert.deepEqual(await t.publish('a', { text: 'hi' }), { offset: 7 });
  const post = node.calls.find((c) => c.url === 'http://node.test/api/publish');
  assert.equal(post.method, 'POST');
  assert.equal(post.headers.Authorization, 'Bearer tok');
  assert.deepEqual(JSON.parse(post.body), { room: 'a', data: { text: 'hi' } });
  await assert.rejects(t.publish('b', 1), { code: 'forbidden', room: 'b', op: 'publish' });
  await assert.rejects(t.publish('a', 10n), { code: 'bad_request', op: 'publish' });
  assert.deepEqual(await t.presence('a b'), { users: [] });
  assert.ok(node.calls.some((c) => c.url === 'http://node.test/api/presence?room=a%20b'));

  const ping = t.ping(1000);
  second.write(': keep-alive\n\n');
  await ping;

  // Unsubscribing reopens the stream without the room.
  await t.unsubscribe('a');
  const third = await node.stream(2);
  assert.equal(third.call.url, 'http://node.test/sse');
  await assert.rejects(t.unsubscribe('a'), { code: 'not_subscribed' });

  // The node ends the stream: its close event is reported, and waiting requests fail.
  const waiting = t.subscribe('c', { presence: false }, () => {});
  const fourth = await node.stream(3);
  assert.equal(fourth.call.url, 'http://node.test/sse?rooms=c');
  fourth.write('data: {"type":"close","code":4001,"reason":"token expired"}\n\n');
  fourth.end();
  await assert.rejects(waiting, { code: 'disconnected', room: 'c', op: 'subscribe' });
  assert.deepEqual(log.at(-1), ['close', 4001, 'token expired']);
  await assert.rejects(t.publish('a', 1), { code: 'disconnected' });
});

// A fetch that the test drives for long-polling: each GET /poll waits for the test's answer;
// DELETE /poll and the HTTP API are answered at once.
function fakePollFetch() {
  const calls = [];
  const polls = [];
  const waiters = [];
  const fetch = async (url, init = {}) => {
    const call = { url: String(url), method: init.method ?? 'GET', headers: init.headers ?? {} };
    calls.push(call);
    if (call.method !== 'GET' || !call.url.includes('/poll')) return new Response(null, { status: 204 });
    return new Promise((resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      polls.push({ call, answer: (body) => resolve(new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } })) });
      waiters.splice(0).forEach((w) => w());
    });
  };
  // The poll number n (from 0), once made.
  const poll = async (n) => {
    while (polls.length <= n) await new Promise((resolve) => waiters.push(resolve));
    return polls[n];
  };
  return { fetch, calls, poll };
}

test('poll transport: sessions of polls, acknowledged; a new one per change of rooms, the old one ended once it is replaced', async () => {
  const node = fakePollFetch();
  const { log, opened, events } = recorder();
  const t = new SseTransport('wss://node.test/ws', 'tok', node.fetch, events, 1000, 'poll');
  assert.equal(t.kind, 'poll');
  const first = await node.poll(0);
  assert.equal(first.call.url, 'https://node.test/poll');
  assert.equal(first.call.headers.Authorization, 'Bearer tok');
  first.answer({ session: 's1', next: 0, events: [] });
  await opened;

  const order = [];
  const sub = t.subscribe('a', { presence: true }, () => order.push('onOk'));
  // A new session for the room (the old session's poll under way is given up).
  const second = await node.poll(2);
  assert.equal((await node.poll(1)).call.url, 'https://node.test/poll?session=s1&ack=0');
  assert.equal(second.call.url, 'https://node.test/poll?rooms=a&presence=a');
  events.push = (m) => order.push(m.type);
  second.answer({ session: 's2', next: 2, events: [
    { id: 'a=0.e1', data: { type: 'subscribed', room: 'a', offset: 0, epoch: 'e1' } },
    { id: 'a=1.e1', data: { type: 'message', room: 'a', data: 1, from: 'u', offset: 1 } }] });
  assert.deepEqual(await sub, { offset: 0, epoch: 'e1' });
  assert.deepEqual(order, ['onOk', 'message']);
  // Every room subscribed in the new session: the old one is ended; the new one is polled on,
  // with what it acknowledges and where it resumes.
  const third = await node.poll(3);
  assert.equal(third.call.url, 'https://node.test/poll?rooms=a&presence=a&session=s2&ack=2');
  assert.equal(third.call.headers['Last-Event-ID'], 'a=1.e1');
  assert.ok(node.calls.some((c) => c.method === 'DELETE' && c.url === 'https://node.test/poll?session=s1'));

  // A ping is answered by the next answer, an empty one too.
  const ping = t.ping(1000);
  third.answer({ session: 's2', next: 2, events: [] });
  await ping;

  // The node no longer knows the session (its grace passed, another node answers): the answer
  // names a new one, whose rooms are announced again.
  (await node.poll(4)).answer({ session: 's3', next: 1, events: [
    { id: 'a=1.e1', data: { type: 'subscribed', room: 'a', offset: 1, epoch: 'e1', recovered: true } }] });
  assert.equal((await node.poll(5)).call.url, 'https://node.test/poll?rooms=a&presence=a&session=s3&ack=1');
  assert.equal(log.some(([e]) => e === 'close'), false);

  // The node ends the session: its close is reported, and the session is not ended again.
  const deletes = node.calls.filter((c) => c.method === 'DELETE').length;
  (await node.poll(5)).answer({ session: 's3', next: 2, events: [{ data: { type: 'close', code: 1001, reason: 'going away' } }] });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(log.at(-1), ['close', 1001, 'going away']);
  assert.equal(node.calls.filter((c) => c.method === 'DELETE').length, deletes);
  await assert.rejects(t.publish('a', 1), { code: 'disconnected' });
});

test('offline queue: in order, the oldest pushed out past max', async () => {
  const queue = new OfflineQueue(2);
  const settle = (item) => new Promise((resolve, reject) => { item.resolve = resolve; item.reject = reject; });
  const made = [queue.entry('a', 1), queue.entry('a', 2), queue.entry('b', 3)];
  const [first, second, third] = made.map(settle);
  for (const item of made) queue.add(item);
  await assert.rejects(first, { code: 'queue_full', room: 'a', op: 'publish' });
  assert.equal(queue.length, 2);
  const items = queue.take();
  assert.deepEqual(items.map((i) => i.data), [2, 3]);
  items[0].resolve({ offset: 1 });
  assert.deepEqual(await second, { offset: 1 });
  const fourth = queue.entry('c', 4);
  settle(fourth).catch((err) => assert.equal(err.code, 'disconnected'));
  queue.add(fourth);
  queue.rejectAll('disconnected', 'gone');
  assert.equal(queue.length, 0);
  items[1].resolve({ offset: 2 });
  assert.deepEqual(await third, { offset: 2 });
});

test('a room owns its state: the application reads it, only the room changes it', () => {
  const client = new Switchboard('ws://127.0.0.1:9/ws', { WebSocket });
  const room = client.subscribe('chat:state', { since: { offset: 5, epoch: 'e' } });
  assert.equal(room.state, 'subscribing');
  assert.deepEqual(room.position, { offset: 5, epoch: 'e' });
  assert.throws(() => { room.state = 'subscribed'; }, TypeError);
  assert.throws(() => { room.position = null; }, TypeError);
  assert.throws(() => { room.presenceEvents = true; }, TypeError);
  assert.equal(client.subscribe('chat:state', { presence: true }), room);
  assert.equal(room.presenceEvents, true);
});
