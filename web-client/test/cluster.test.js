// The SDK against a node of a cluster (a real redis-server): when the room's epoch changes
// under a connected client — Redis flushed or restarted empty — the application's `subscribed`
// handler hears recovered:false before the first message of the new epoch, on both transports.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard } from '../switchboard.js';
import { SwitchboardNode, RedisServer, next, inbox, connected } from './support/helpers.js';

const FAST = { WebSocket, minReconnectDelay: 20, maxReconnectDelay: 200, requestTimeout: 3000 };

let redis;
let node;
const clients = new Set();
const open = (options = {}) => {
  const c = new Switchboard(node.wsUrl, { ...FAST, ...options });
  clients.add(c);
  return c;
};

// Until the node answers ready (it reaches Redis and has subscribed its rooms again).
async function ready() {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${node.httpUrl}/readyz`).catch(() => null);
    if (res?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the node never answered ready');
}

before(async () => {
  redis = await RedisServer.start();
  node = await SwitchboardNode.start({ args: ['--redis', redis.url, '--redis-prefix', 'webclient:'] });
  await ready();
});
after(async () => {
  await node?.stop();
  await redis?.stop();
});
afterEach(() => {
  for (const c of clients) c.disconnect();
  clients.clear();
});

for (const transport of ['websocket', 'sse']) {
  test(`${transport}: an epoch change is a subscribed event with recovered:false, then the messages`, { timeout: 20000 }, async () => {
    const roomName = `epoch:${transport}`;
    const client = await connected(open({ transports: [transport] }));
    assert.equal(client.transport, transport);
    const room = client.subscribe(roomName);
    await next(room, 'subscribed');
    const got = inbox(room);
    const publisher = await connected(open());
    await publisher.publish(roomName, 'one');
    await publisher.publish(roomName, 'two');
    await got.waitFor(2);
    const before = room.position;
    assert.equal(before.offset, 2);

    // Redis loses the room's history: its numbering starts again under a new epoch.
    await redis.cli('FLUSHALL');
    const announced = next(room, 'subscribed');
    await publisher.publish(roomName, 'three');
    const event = await announced;
    assert.equal(event.recovered, false);
    assert.equal(event.resubscribed, true);
    assert.equal(event.position.offset, 0);
    assert.notEqual(event.position.epoch, before.epoch);
    const messages = await got.waitFor(3);
    assert.deepEqual(messages.map((m) => [m.data, m.offset]), [['one', 1], ['two', 2], ['three', 1]]);
    assert.deepEqual(room.position, { offset: 1, epoch: event.position.epoch });
  });
}

test('Redis restarting empty under a connected client: recovered:false, then every later message', { timeout: 30000 }, async () => {
  const client = await connected(open());
  const room = client.subscribe('epoch:restart');
  await next(room, 'subscribed');
  const got = inbox(room);
  const publisher = await connected(open());
  await publisher.publish('epoch:restart', 'before');
  await got.waitFor(1);
  const announced = next(room, 'subscribed', { timeout: 15000 });

  await redis.stop();
  await redis.start();
  await ready();
  // Once subscribed again, the node finds the room at a new epoch and says so.
  const event = await announced;
  assert.equal(event.recovered, false);
  assert.notEqual(event.position.epoch, '');
  await publisher.publish('epoch:restart', 'after');
  const messages = await got.waitFor(2);
  assert.deepEqual(messages.map((m) => m.data), ['before', 'after']);
  assert.equal(client.transport, 'websocket'); // the same connection all along
});
