// Tokens against a real node that verifies JWTs: the token in the query, getToken before every
// connect, refused handshakes, and (when the node has them) refresh, 4001, permissions and
// the dev token endpoint.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard } from '../switchboard.js';
import { SwitchboardNode, OwnNode, signJwt, next, record, inbox, within, connected } from './support/helpers.js';

const SECRET = 'test-secret-for-the-web-client-suite';
const FAST = { WebSocket, minReconnectDelay: 20, maxReconnectDelay: 200, requestTimeout: 3000 };
const nowSec = () => Math.floor(Date.now() / 1000);
const token = (sub, extra = {}) => signJwt({ sub, exp: nowSec() + 600, ...extra }, SECRET);


let node;
const clients = new Set();
const open = (options, url = node.wsUrl) => {
  const c = new Switchboard(url, { ...FAST, ...options });
  clients.add(c);
  return c;
};
const subscribed = async (client, name, options) => {
  const room = client.subscribe(name, options);
  await next(room, 'subscribed');
  return room;
};

before(async () => {
  node = await SwitchboardNode.start({
    anonymous: false, env: { SWITCHBOARD_JWT_SECRET: SECRET }, args: ['--jwt-leeway', '0'],
  });
});
after(async () => { await node?.stop(); });
afterEach(() => {
  for (const c of clients) c.disconnect();
  clients.clear();
});

test('a static token travels in the query, next to the parameters already there', { timeout: 10000 }, async () => {
  const c = await connected(open({ token: token('alice', { info: { name: 'Alice' } }) }, `${node.wsUrl}?client=test`));
  const room = c.subscribe('chat:tokens', { presence: true });
  const join = await next(room, 'join');
  assert.deepEqual(join, { room: 'chat:tokens', user: 'alice', info: { name: 'Alice' } });
  const box = inbox(room);
  await room.publish('hi');
  assert.equal((await box.waitFor(1))[0].from, 'alice');
});

test('getToken is called before every connect, and its token is used', { timeout: 15000 }, async () => {
  const own = await OwnNode.start({ anonymous: false, env: { SWITCHBOARD_JWT_SECRET: SECRET } });
  try {
    let n = 0;
    const order = [];
    const c = open({ getToken: async () => { order.push('getToken'); return token(`bob-${++n}`); } }, own.wsUrl);
    c.on('connecting', () => order.push('connecting'));
    await connected(c);
    assert.deepEqual(order.slice(0, 2), ['connecting', 'getToken'], '`connecting` fires before the token is asked for');
    const room = c.subscribe('chat:gettoken', { presence: true });
    assert.equal((await next(room, 'join')).user, 'bob-1');

    const rejoined = next(room, 'join', { timeout: 10000, predicate: (j) => j.user !== 'bob-1' });
    await own.stop();
    await own.restart({ anonymous: false, env: { SWITCHBOARD_JWT_SECRET: SECRET } });
    const { user } = await rejoined;
    assert.match(user, /^bob-\d+$/);
    assert.equal(user, `bob-${n}`, 'the connection uses the token of the latest getToken call');
    assert.ok(n >= 2);
  } finally {
    await own.close();
  }
});

test('a refused handshake (expired static token) is a final, typed error: no retrying forever', { timeout: 10000 }, async () => {
  const expired = signJwt({ sub: 'carol', exp: nowSec() - 3600 }, SECRET);
  const c = open({ token: expired, minReconnectDelay: 10, maxReconnectDelay: 40, offlineQueue: { max: 5 } });
  const log = record(c, ['connected', 'reconnecting', 'error', 'disconnected']);
  const gone = next(c, 'disconnected');
  c.connect();
  const publish = c.publish('chat:x', 1); // queued, then rejected when the client gives up
  publish.catch(() => {});
  const { code, willReconnect, refused } = await gone;
  // The WebSocket said only 1006; the client asked the node (GET /ws) why.
  assert.deepEqual({ code, willReconnect, refused }, { code: 1006, willReconnect: false, refused: 'expired' });
  assert.deepEqual(log.map(([e]) => e), ['error', 'disconnected']);
  assert.equal(log[0][1].code, 'expired');
  assert.equal(log[0][1].op, 'connect');
  assert.equal(c.state, 'disconnected');
  await assert.rejects(publish, { code: 'disconnected', message: 'refused: expired' });
});

test('a 4003 from the server API is reconnected from; a revoked user is refused for good, getToken or not', { timeout: 15000 }, async () => {
  const API_KEY = 'auth-test-api-key-0123456789';
  const own = await SwitchboardNode.start({ anonymous: false, env: { SWITCHBOARD_JWT_SECRET: SECRET }, args: ['--api-keys', API_KEY] });
  try {
    const c = await connected(open({ getToken: async () => token('frank') }, own.wsUrl));
    const errors = record(c, ['error']);
    const disconnect = async (body) => {
      const res = await fetch(`http://127.0.0.1:${own.port}/api/disconnect`, {
        method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, await res.text());
    };
    let gone = next(c, 'disconnected');
    const back = next(c, 'connected');
    await disconnect({ user: 'frank', reason: 'kicked' });
    assert.deepEqual(await gone, { code: 4003, reason: 'kicked', willReconnect: true });
    await back;
    gone = next(c, 'disconnected', { predicate: (e) => !e.willReconnect });
    await disconnect({ user: 'frank', until: nowSec() + 600 });
    const { willReconnect, refused } = await gone;
    assert.deepEqual({ willReconnect, refused }, { willReconnect: false, refused: 'revoked' });
    assert.deepEqual(errors.map(([, err]) => err.code), ['revoked']);
    assert.equal(c.state, 'disconnected');
  } finally {
    await own.stop();
  }
});

test('a token getToken() gives that is refused is reported, and the client keeps trying', { timeout: 10000 }, async () => {
  let calls = 0;
  const c = open({
    getToken: () => (++calls < 3 ? signJwt({ sub: 'dan', exp: nowSec() - 3600 }, SECRET) : token('dan')),
    minReconnectDelay: 10, maxReconnectDelay: 40,
  });
  const log = record(c, ['error', 'reconnecting']);
  await connected(c); // getToken() may give a good token later
  const errors = log.filter(([e]) => e === 'error').map(([, err]) => err.code);
  assert.deepEqual(errors, ['expired', 'expired']);
  assert.equal(log.filter(([e]) => e === 'reconnecting').length, 2);
});

test('a connection that fails without a refusal (nothing listening) is retried, with no error', { timeout: 10000 }, async () => {
  // No listener behind the port: no answer to GET /ws either, so nothing is known but a failure.
  const c = open({ token: token('erin'), minReconnectDelay: 10, maxReconnectDelay: 40 }, 'ws://127.0.0.1:1/ws');
  const third = next(c, 'reconnecting', { predicate: (r) => r.attempt === 2 });
  const errors = record(c, ['error']);
  c.connect();
  await third;
  assert.deepEqual(errors, []);
});

test('getToken answering null connects without a token (anonymous node)', { timeout: 10000 }, async () => {
  const anon = await SwitchboardNode.start();
  try {
    const c = await connected(open({ getToken: () => null }, anon.wsUrl));
    const room = c.subscribe('chat:anon', { presence: true });
    assert.match((await next(room, 'join')).user, /^anon-/);
  } finally {
    await anon.stop();
  }
});

test('refresh: getToken answers the node\'s refresh push and the connection outlives the first token', { timeout: 15000 }, async () => {
  // The node asks for a new token halfway to a short-lived token's exp, and closes with 4001 at exp.
  let calls = 0;
  let refreshAsked;
  const asked = new Promise((resolve) => { refreshAsked = resolve; });
  const firstExp = nowSec() + 3;
  const c = open({
    getToken: () => {
      if (++calls === 1) return signJwt({ sub: 'dave', exp: firstExp }, SECRET);
      refreshAsked();
      return token('dave');
    },
  });
  const log = record(c, ['connected', 'disconnected', 'error']);
  await connected(c);
  const room = await subscribed(c, 'chat:refresh');
  await within(5000, asked, 'the refresh push');
  // Past the first token's exp: still the same connection, still subscribed.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstExp * 1000 - Date.now() + 1200)));
  assert.deepEqual(log.map(([e]) => e), ['connected']);
  const box = inbox(room);
  await room.publish('after the first exp');
  assert.equal((await box.waitFor(1))[0].from, 'dave');
});

test('a static token that expires ends the connection for good (4001)', { timeout: 10000 }, async () => {
  const c = open({ token: signJwt({ sub: 'erin', exp: nowSec() + 2 }, SECRET) });
  const log = record(c, ['disconnected', 'reconnecting']);
  await connected(c);
  const closed = await next(c, 'disconnected', { timeout: 6000 });
  assert.equal(closed.code, 4001);
  assert.equal(closed.willReconnect, false);
  assert.equal(c.state, 'disconnected');
  await assert.rejects(next(c, 'reconnecting', { timeout: 300 }));
  assert.deepEqual(log.map(([e]) => e), ['disconnected']);
});

test('permissions: forbidden rejects, and a refresh that narrows them ends the subscription', { timeout: 15000 }, async () => {
  const wide = { sub: ['chat:*'], pub: ['chat:*'], presence: ['chat:*'] };
  const narrow = { sub: ['chat:a'], pub: ['chat:a'], presence: [] };
  let calls = 0;
  const c = open({
    getToken: () => signJwt({ sub: 'frank', exp: nowSec() + (++calls === 1 ? 3 : 600), rooms: calls === 1 ? wide : narrow }, SECRET),
  });
  await connected(c);
  const a = await subscribed(c, 'chat:a');
  const b = await subscribed(c, 'chat:b');
  await assert.rejects(c.publish('news:x', 1), { code: 'forbidden' });
  await assert.rejects(c.presence('news:x'), { code: 'forbidden' });
  const news = c.subscribe('news:x');
  assert.equal((await next(news, 'error')).code, 'forbidden');
  assert.equal(c.state, 'connected');

  const ended = await next(b, 'unsubscribed', { timeout: 6000 }); // after the refresh with `narrow`
  assert.equal(ended.code, 'forbidden');
  assert.equal(b.state, 'unsubscribed');
  assert.deepEqual(c.rooms.map((r) => r.name), ['chat:a'], 'an ended room is not resubscribed');
  assert.equal(a.state, 'subscribed');
  await assert.rejects(c.publish('chat:b', 1), { code: 'forbidden' });
});

test('the dev token endpoint gives tokens the client can use', { timeout: 10000 }, async () => {
  const dev = await SwitchboardNode.start({ anonymous: false, args: ['--dev'] });
  try {
    const res = await fetch(`${dev.httpUrl}/dev/token?user=gina`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.user, 'gina');
    assert.equal(typeof body.token, 'string');
    const c = await connected(open({
      getToken: async () => (await (await fetch(`${dev.httpUrl}/dev/token?user=gina`)).json()).token,
    }, dev.wsUrl));
    const room = c.subscribe('chat:dev', { presence: true });
    assert.equal((await next(room, 'join')).user, 'gina');
  } finally {
    await dev.stop();
  }
});
