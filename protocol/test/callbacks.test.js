// The requests a node makes to the application's backend, as openapi.yaml describes them under
// `webhooks`: a backend started here receives the webhook batches and answers the proxy's calls;
// every request must be signed with the documented scheme and its body must validate against its
// documented schema, every answer given here against the answer's, and each documented request
// must have been made.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { SwitchboardNode, escapeKey, loadDescription, openStream, request, schemaValidator, signJwt } from './support.js';

const JWT_SECRET = 'callbacks-test-jwt-secret-0123456789';
const HOOK_SECRET = 'callbacks-test-webhook-secret-0123';
const PROXY_SECRET = 'callbacks-test-proxy-secret-01234';

const doc = loadDescription();
const validate = schemaValidator(doc);
const received = [];  // {name, body}
const waiters = [];

/** The documented request `name` (a key of `webhooks`) received with `body`, checked. */
function check(name, req, raw, secret) {
  const operation = doc.webhooks[name].post;
  const timestamp = req.headers['x-switchboard-timestamp'];
  const signature = req.headers['x-switchboard-signature'];
  for (const [header, value] of [['X-Switchboard-Timestamp', timestamp], ['X-Switchboard-Signature', signature]]) {
    const at = `/components/parameters/${header === 'X-Switchboard-Timestamp' ? 'SignatureTimestamp' : 'Signature'}/schema`;
    assert.equal(validate(at, value), null, `${name}: header ${header}: ${value}`);
  }
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('hex')}`;
  assert.ok(timingSafeEqual(Buffer.from(signature), Buffer.from(expected)), `${name}: the signature does not verify`);
  assert.ok(Math.abs(Date.now() / 1000 - Number(timestamp)) < 300, `${name}: a stale timestamp`);
  assert.ok(operation.requestBody.content['application/json'], `${name}: no JSON body documented`);
  const body = JSON.parse(raw);
  const error = validate(`/webhooks/${escapeKey(name)}/post/requestBody/content/application~1json/schema`, body);
  assert.equal(error, null, `${name}: ${raw}: ${error}`);
  return body;
}

/** The backend's answer to a proxy call, checked against the documented answer. */
function answer(name, res, value) {
  const error = validate(`/webhooks/${escapeKey(name)}/post/responses/200/content/application~1json/schema`, value);
  assert.equal(error, null, `${name}: our own answer ${JSON.stringify(value)}: ${error}`);
  const text = JSON.stringify(value);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const routes = {
  '/events': ['events', HOOK_SECRET, (body, res) => { res.writeHead(204); res.end(); }],
  '/connect': ['proxyConnect', PROXY_SECRET, (body, res) => {
    const user = /session=([a-z]+)/.exec(body.headers.cookie ?? '')?.[1];
    if (!user) return answer('proxyConnect', res, { allow: false, status: 401, message: 'sign in first' });
    return answer('proxyConnect', res, { allow: true, user, info: { name: user }, rooms: { sub: ['chat:*'], pub: ['chat:*'], presence: ['chat:*'] } });
  }],
  '/subscribe': ['proxySubscribe', PROXY_SECRET, (body, res) => answer('proxySubscribe', res, { allow: !body.room.startsWith('chat:secret') })],
  '/publish': ['proxyPublish', PROXY_SECRET, (body, res) => {
    if (JSON.stringify(body.data).includes('darn')) return answer('proxyPublish', res, { allow: false, message: 'watch your language' });
    return answer('proxyPublish', res, { allow: true, data: { text: body.data, checked: true } });
  }],
};

let backend;
let node;
let failure;
before(async () => {
  backend = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      try {
        const [name, secret, respond] = routes[req.url];
        const body = check(name, req, raw, secret);
        received.push({ name, body });
        for (const w of [...waiters]) if (w()) waiters.splice(waiters.indexOf(w), 1);
        respond(body, res);
      } catch (err) {
        failure ??= err;
        res.writeHead(500);
        res.end();
      }
    });
  });
  await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${backend.address().port}`;
  node = await SwitchboardNode.start(['--jwt-secret', JWT_SECRET, '--webhook-url', `${base}/events`,
    '--webhook-secret', HOOK_SECRET, '--proxy-connect', `${base}/connect`, '--proxy-subscribe', `${base}/subscribe`,
    '--proxy-publish', `${base}/publish`, '--proxy-secret', PROXY_SECRET]);
});
after(async () => {
  await node?.stop();
  backend?.closeAllConnections();
  await new Promise((resolve) => backend?.close(resolve));
});

/** Resolves once a received request satisfies `pred` (10 s at most). */
function receivedOne(pred) {
  return new Promise((resolve, reject) => {
    const found = () => {
      const r = received.find(pred);
      if (r) resolve(r);
      return Boolean(r);
    };
    if (found()) return;
    const timer = setTimeout(() => reject(new Error(`no such request in 10 s${
      failure ? ` (one failed its check: ${failure.message})` : ''}:\n${JSON.stringify(received)}`)), 10000);
    waiters.push(() => { const done = found(); if (done) clearTimeout(timer); return done; });
  });
}
const hasEvent = (type) => (r) => r.name === 'events' && r.body.events.some((e) => e.type === type);

test('every documented request to the backend is made, signed, and as described', async () => {
  // A stream without a token: the application says who it is, and lets it into its rooms.
  const refused = await openStream(`${node.url}/sse?rooms=chat:lobby`);
  assert.equal(refused.status, 401);
  const stream = await openStream(`${node.url}/sse?rooms=chat:lobby,chat:secret&presence=chat:lobby`,
    { Cookie: 'session=alice' });
  assert.equal(stream.status, 200);
  const connect = await receivedOne((r) => r.name === 'proxyConnect' && r.body.headers.cookie);
  assert.equal(connect.body.transport, 'sse');
  await receivedOne((r) => r.name === 'proxySubscribe' && r.body.room === 'chat:secret');
  // A token's publish over HTTP: asked, then published with the application's data.
  const token = signJwt({ sub: 'bob', exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET);
  const published = await request(`${node.url}/api/publish`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ room: 'chat:lobby', data: 'hello', idem: 'k-1' }),
  });
  assert.equal(published.status, 200, published.body);
  const message = await stream.next((e) => e.data?.data?.checked === true);
  assert.equal(message.data.data.text, 'hello');
  const refusedPublish = await request(`${node.url}/api/publish`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ room: 'chat:lobby', data: 'darn' }),
  });
  assert.equal(refusedPublish.status, 403);
  stream.close();
  for (const type of ['connection_opened', 'room_occupied', 'member_added', 'message_published', 'member_removed',
    'room_vacated', 'connection_closed']) await receivedOne(hasEvent(type));
  assert.equal(failure, undefined, failure?.stack);
  const made = new Set(received.map((r) => r.name));
  assert.deepEqual([...made].sort(), Object.keys(doc.webhooks).sort(), 'a documented request was never made');
});
