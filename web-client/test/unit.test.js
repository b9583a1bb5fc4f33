// Pure parts of the SDK: the backoff, the URL with its token, option checks, and the
// reconnect schedule against a port where nothing listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { Switchboard, SwitchboardError, admissionUrl, backoffDelay, connectionUrl, sseUrls, EventStreamParser } from '../switchboard.js';
import { next } from './support/helpers.js';

test('backoff: exponential ceiling, full jitter above the floor, capped', () => {
  const min = 500, max = 30000;
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(max, min * 2 ** (attempt + 1));
    assert.equal(backoffDelay(attempt, min, max, () => 0), min, `attempt ${attempt} lowest`);
    const top = backoffDelay(attempt, min, max, () => 1 - Number.EPSILON);
    assert.ok(top <= ceiling && top > ceiling - 1e-6 * ceiling, `attempt ${attempt} highest ${top} vs ${ceiling}`);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, min, max);
      assert.ok(d >= min && d <= ceiling, `attempt ${attempt}: ${d} outside [${min}, ${ceiling}]`);
    }
  }
  assert.equal(backoffDelay(0, min, max, () => 0.5), 750);
  assert.equal(backoffDelay(3, min, max, () => 0.5), 500 + 0.5 * 7500);
  assert.equal(backoffDelay(10, min, max, () => 0.5), 500 + 0.5 * 29500);
  assert.equal(backoffDelay(5, 100, 100, () => 0.7), 100, 'min = max: no jitter left');
  // The jitter really spreads: many clients retrying at once do not retry together.
  const samples = Array.from({ length: 1000 }, () => backoffDelay(4, min, max));
  const buckets = new Set(samples.map((d) => Math.floor(d / 1000)));
  assert.ok(buckets.size >= 12, `spread over ${buckets.size} one-second buckets`);
});

test('the token goes in the query, whatever the URL already has', () => {
  assert.equal(connectionUrl('ws://h:1/ws', 'a.b.c'), 'ws://h:1/ws?token=a.b.c');
  assert.equal(connectionUrl('ws://h:1/ws?x=1', 'a.b.c'), 'ws://h:1/ws?x=1&token=a.b.c');
  assert.equal(connectionUrl('ws://h:1/ws?', 'a.b.c'), 'ws://h:1/ws?token=a.b.c');
  assert.equal(connectionUrl('ws://h:1/ws?token=old&x=1', 'new'), 'ws://h:1/ws?x=1&token=new');
  assert.equal(connectionUrl('wss://h/ws#frag', 't'), 'wss://h/ws?token=t');
  assert.equal(connectionUrl('https://h/ws', null), 'wss://h/ws');
  assert.equal(connectionUrl('http://h/ws?room=a%20b', undefined), 'ws://h/ws?room=a%20b');
  assert.equal(connectionUrl(new URL('ws://h/ws'), 'x+y/z='), 'ws://h/ws?token=x%2By%2Fz%3D');
  assert.equal(new URL(connectionUrl('ws://h/ws', 'x+y/z=')).searchParams.get('token'), 'x+y/z=');
});

test('the node is asked why a handshake was refused at the same URL over HTTP', () => {
  assert.equal(admissionUrl('wss://h/ws', 'a.b.c'), 'https://h/ws?token=a.b.c');
  assert.equal(admissionUrl('ws://h:1/ws?x=1', null), 'http://h:1/ws?x=1');
  assert.equal(admissionUrl('https://h/ws#f', 't'), 'https://h/ws?token=t');
});

test('options are checked', () => {
  assert.throws(() => new Switchboard('', { WebSocket }), TypeError);
  assert.throws(() => new Switchboard('not a url', { WebSocket }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, minReconnectDelay: -1 }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, heartbeatTimeout: 0 }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, offlineQueue: { max: 1.5 } }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, getToken: 'x' }), TypeError);
  if (typeof globalThis.WebSocket !== 'function') {
    // No WebSocket here (Node 20): what is left is Server-Sent Events over fetch.
    assert.throws(() => new Switchboard('ws://h/ws', { transports: ['websocket'] }), /WebSocket/);
    assert.equal(new Switchboard('ws://h/ws').transport, 'sse');
  }
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, transports: [] }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, transports: ['longpoll'] }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { WebSocket, fallbackAfter: 0 }), TypeError);
  assert.throws(() => new Switchboard('ws://h/ws', { transports: ['sse'], fetch: 'x' }), /fetch/);
  assert.equal(new Switchboard('ws://h/ws', { WebSocket }).transport, 'websocket');
  const c = new Switchboard('ws://h/ws', { WebSocket, heartbeatInterval: 0 });
  assert.equal(c.state, 'disconnected');
  assert.deepEqual(c.rooms, []);
  const e = new SwitchboardError('bad_room', 'no', { room: 'r', op: 'publish' });
  assert.ok(e instanceof Error);
  assert.deepEqual([e.name, e.code, e.message, e.room, e.op], ['SwitchboardError', 'bad_room', 'no', 'r', 'publish']);
});

test('refused connections are retried with growing, jittered delays until disconnect()', { timeout: 10000 }, async () => {
  // A port nothing listens on: take one, then free it.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));

  const min = 10, max = 80;
  let tokens = 0;
  const c = new Switchboard(`ws://127.0.0.1:${port}/ws`, {
    WebSocket, minReconnectDelay: min, maxReconnectDelay: max, getToken: async () => { tokens++; return null; },
  });
  const retries = [];
  const disconnects = [];
  c.on('disconnected', (d) => disconnects.push(d));
  const sixth = new Promise((resolve) => c.on('reconnecting', (r) => { retries.push(r); if (retries.length === 6) resolve(); }));
  c.connect();
  await sixth;
  c.disconnect();
  assert.equal(c.state, 'disconnected');
  assert.deepEqual(retries.map((r) => r.attempt), [0, 1, 2, 3, 4, 5]);
  for (const { attempt, delay } of retries) {
    assert.ok(delay >= min && delay <= Math.min(max, min * 2 ** (attempt + 1)), `attempt ${attempt}: ${delay} ms`);
  }
  assert.ok(tokens >= 6, 'getToken is asked before every attempt');
  assert.ok(disconnects.slice(0, -1).every((d) => d.code === 1006 && d.willReconnect));
  assert.deepEqual(disconnects.at(-1), { code: 1000, reason: 'client disconnect', willReconnect: false });
  const after = retries.length;
  await assert.rejects(next(c, 'reconnecting', { timeout: 3 * max }));
  assert.equal(retries.length, after, 'no retry after disconnect()');
});

test('a failing getToken is reported and retried', { timeout: 5000 }, async () => {
  let calls = 0;
  const c = new Switchboard('ws://127.0.0.1:9/ws', {
    WebSocket, minReconnectDelay: 5, maxReconnectDelay: 10,
    getToken: () => { calls++; throw new Error('auth service down'); },
  });
  const errors = [];
  c.on('error', (e) => errors.push(e));
  const retried = next(c, 'reconnecting', { predicate: (r) => r.attempt === 1 });
  c.connect();
  await retried;
  c.disconnect();
  assert.ok(calls >= 2);
  assert.equal(errors[0].code, 'token_error');
  assert.match(errors[0].message, /auth service down/);
});

test('sseUrls puts the stream, the polls and the API beside the WebSocket path', () => {
  assert.deepEqual(sseUrls('wss://chat.example.com/ws'),
    { stream: 'https://chat.example.com/sse', poll: 'https://chat.example.com/poll', api: 'https://chat.example.com/api/' });
  assert.deepEqual(sseUrls('ws://127.0.0.1:8080/switchboard/ws?token=x#f'),
    { stream: 'http://127.0.0.1:8080/switchboard/sse', poll: 'http://127.0.0.1:8080/switchboard/poll', api: 'http://127.0.0.1:8080/switchboard/api/' });
});

test('EventStreamParser: fields, comments, any line ending, text split anywhere', () => {
  const events = [];
  let comments = 0;
  const parser = new EventStreamParser((e) => events.push(e), () => comments++);
  const stream = 'id: a=1.e\ndata: {"n":1}\n\n:\n\ndata:two\r\ndata: lines\r\n\r\nid: b=2.e\rdata: x\r\rretry: 5\nevent: ignored\ndata\n\nid\n\n';
  for (const ch of stream) parser.push(ch); // one character at a time
  assert.deepEqual(events, [
    { data: '{"n":1}', id: 'a=1.e' },
    { data: 'two\nlines', id: undefined },
    { data: 'x', id: 'b=2.e' },
    { data: '', id: undefined },
  ]);
  assert.equal(comments, 1);
});

test('the offline queue keeps its order, and never pushes out a publish sent before', async () => {
  const { OfflineQueue, newIdem } = await import('../src/offline-queue.js');
  const q = new OfflineQueue(2);
  const settled = [];
  const make = (n) => {
    const item = q.entry('r', n);
    item.resolve = () => settled.push(`${n} ok`);
    item.reject = (err) => settled.push(`${n} ${err.code}`);
    return item;
  };
  const a = make(1), b = make(2), c = make(3), d = make(4);
  assert.match(a.idem, /^[0-9a-f]{32}$/);
  assert.notEqual(a.idem, b.idem);
  assert.equal(q.entry('r', 0, 'mine').idem, 'mine');
  assert.match(newIdem(), /^[0-9a-f]{32}$/);
  // a was sent and lost with its connection; c and d were made while reconnecting.
  a.sends = 1;
  q.add(c);
  q.add(d);
  q.putBack(a);
  assert.deepEqual(q.take().map((it) => it.data), [1, 3, 4]);
  // Past max, the oldest never sent goes, not the one put back.
  b.sends = 1;
  q.putBack(b);
  q.add(c);
  q.add(d);
  assert.deepEqual(settled, ['3 queue_full']);
  assert.deepEqual(q.take().map((it) => it.data), [2, 4]);
});
