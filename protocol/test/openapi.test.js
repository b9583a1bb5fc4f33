// protocol/openapi.yaml against running nodes: every request below is checked against the
// description (its path and method are described, its status is documented for the operation,
// its body validates against the documented schema, its documented headers against theirs), and
// at the end every documented operation and status must have been answered by a node, so that
// the description cannot drift from the node.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  SwitchboardNode, escapeKey, freePort, loadDescription, openStream, protocolDir, request, schemaValidator, signJwt,
} from './support.js';

const SECRET = 'openapi-test-secret-0123456789abcdef';
const KEY = 'openapi-test-api-key-0123';
const ALLOWED = 'https://app.example';
const EVIL = 'https://evil.example';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const doc = loadDescription();
const validate = schemaValidator(doc);
// "<method> <path> <status>" answered by a node, and "<path> 405" for the methods a path does not serve.
const covered = new Set();

const jwt = (claims = {}, secret = SECRET) =>
  signJwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...claims }, secret);
const bearer = (credential) => ({ Authorization: `Bearer ${credential}` });
const json = (body) => ({ 'Content-Type': 'application/json', body: JSON.stringify(body) });

function lookup(pointer) {
  let node = doc;
  for (const key of pointer.split('/').slice(1)) {
    node = node?.[key.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  assert.ok(node !== undefined, `openapi.yaml has nothing at #${pointer}`);
  return node;
}

/** A response object of the description and its pointer, through a $ref. */
function resolve(object, pointer) {
  if (object.$ref) return { object: lookup(object.$ref.slice(1)), pointer: object.$ref.slice(1) };
  return { object, pointer };
}

/** Checks an answer against a documented response object (at `pointer`). */
function checkAgainst(response, pointer, method, res, events) {
  const where = `${method} ${res.url} → ${res.status}`;
  for (const [name, documented] of Object.entries(response.headers ?? {})) {
    const { object: header, pointer: at } = resolve(documented, `${pointer}/headers/${escapeKey(name)}`);
    let value = res.headers[name.toLowerCase()];
    if (header.required) assert.ok(value !== undefined, `${where}: no ${name} header`);
    if (value === undefined) continue;
    if (header.schema?.type === 'integer') value = Number(value);
    const error = validate(`${at}/schema`, value);
    assert.equal(error, null, `${where}: header ${name}: ${value}: ${error}`);
  }
  if (method === 'HEAD' || !response.content) {
    assert.equal(res.body ?? '', '', `${where}: a body where none is documented`);
    return;
  }
  const type = res.headers['content-type'] ?? '';
  const key = Object.keys(response.content).find((k) => k === type || k === type.split(';')[0].trim());
  assert.ok(key, `${where}: Content-Type ${type} is not documented (${Object.keys(response.content)})`);
  const at = `${pointer}/content/${escapeKey(key)}`;
  if (key === 'application/json') {
    const body = JSON.parse(res.body);
    const error = validate(`${at}/schema`, body);
    assert.equal(error, null, `${where}: ${res.body}: ${error}`);
  } else if (key === 'text/event-stream') {
    for (const event of events ?? []) {
      const error = validate(`${at}/x-event-data`, event.data);
      assert.equal(error, null, `${where}: event ${JSON.stringify(event.data)}: ${error}`);
      if (event.id === undefined) continue;
      const idError = validate(`${at}/x-event-id`, event.id);
      assert.equal(idError, null, `${where}: event id ${event.id}: ${idError}`);
    }
  } else {
    const error = validate(`${at}/schema`, res.body);
    assert.equal(error, null, `${where}: ${error}`);
  }
}

/**
 * Checks an answer of `method url` against the description; `events`: a stream's events so far.
 * Returns the answer.
 */
/** The documented path a request's path is: itself, or a template such as /api/users/{id}. */
function templateOf(pathname) {
  if (doc.paths[pathname]) return pathname;
  return Object.keys(doc.paths).find((p) => p.includes('{')
    && new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname)) ?? pathname;
}

function check(method, url, res, events) {
  res.url = url;
  const pathname = templateOf(new URL(url).pathname);
  const item = doc.paths[pathname];
  assert.ok(item, `${pathname} is not described in openapi.yaml`);
  const op = item[method.toLowerCase()];
  if (!op) {
    // A method the path does not serve.
    assert.equal(res.status, 405, `${method} ${pathname}: not described, yet answered ${res.status}: ${res.body}`);
    assert.equal(res.headers.allow, item['x-allow'], `${method} ${pathname}: Allow`);
    checkAgainst(lookup('/components/responses/MethodNotAllowed'), '/components/responses/MethodNotAllowed', method, res);
    covered.add(`${pathname} 405`);
    return res;
  }
  const documented = op.responses[String(res.status)];
  assert.ok(documented, `${method} ${pathname} answered ${res.status}, not documented in openapi.yaml: ${res.body}`);
  const { object, pointer } = resolve(documented,
    `/paths/${escapeKey(pathname)}/${method.toLowerCase()}/responses/${res.status}`);
  checkAgainst(object, pointer, method, res, events);
  covered.add(`${method.toLowerCase()} ${pathname} ${res.status}`);
  return res;
}

/** Sends a request and checks its answer; asserts the status when `status` is given. */
async function call(method, url, { headers = {}, body, status } = {}) {
  const res = check(method, url, await request(url, { method, headers, body }));
  if (status !== undefined) assert.equal(res.status, status, `${method} ${url}: ${res.body}`);
  return res;
}
const codeOf = (res) => JSON.parse(res.body).error.code;

/** Opens a stream and checks its answer (and, for a stream, the events it got so far, when asked). */
async function stream(url, headers = {}) {
  const res = await openStream(url, headers);
  check('GET', url, res, res.events);
  res.check = () => check('GET', url, res, res.events);
  return res;
}

let main;  // --dev, a JWT secret, an API key, an allowed origin, a small message size
before(async () => {
  main = await SwitchboardNode.start(['--dev', '--jwt-secret', SECRET, '--api-keys', KEY,
    '--allowed-origins', ALLOWED, '--max-message-size', '4096', '--poll-timeout', '2']);
});
after(() => main?.stop());

test('openapi.yaml is a valid OpenAPI 3.1 description', async () => {
  const validator = new Validator();
  const result = await validator.validate(path.join(protocolDir, 'openapi.yaml'));
  assert.deepEqual(result, { valid: true });
  assert.equal(validator.version, '3.1');
  // Every reference resolves; every operation has an id of its own.
  const walk = (node) => {
    if (typeof node !== 'object' || node === null) return;
    if (typeof node.$ref === 'string') {
      assert.match(node.$ref, /^#\//, `a reference outside the file: ${node.$ref}`);
      lookup(node.$ref.slice(1));
    }
    for (const value of Object.values(node)) walk(value);
  };
  walk(doc);
  const ids = Object.values(doc.paths).flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m].operationId));
  assert.ok(ids.every(Boolean), 'an operation without operationId');
  assert.equal(new Set(ids).size, ids.length, 'operationIds are not unique');
  for (const [p, item] of Object.entries(doc.paths)) {
    // x-allow: the methods of the path's operations, but for its CORS preflight.
    assert.ok(item['x-allow'], `${p}: no x-allow`);
    const served = METHODS.filter((m) => item[m] && m !== 'options').map((m) => m.toUpperCase());
    assert.deepEqual(item['x-allow'].split(', ').sort(), served.sort(), `${p}: x-allow`);
  }
});

test('POST /api/publish', async () => {
  const url = `${main.url}/api/publish`;
  const post = (headers, body, status) => call('POST', url, { headers, body, status });
  const message = JSON.stringify({ room: 'chat:lobby', data: { text: 'hi' }, from: 'billing' });
  await post(bearer(KEY), message, 200);
  await post(bearer(jwt()), JSON.stringify({ room: 'chat:lobby', data: 1, extra: true }), 200);
  const shared = await post({ ...bearer(KEY), Origin: ALLOWED }, message, 200);
  assert.equal(shared.headers['access-control-allow-origin'], ALLOWED);
  assert.equal(shared.headers['access-control-expose-headers'], 'Retry-After');
  assert.equal(codeOf(await post(bearer(KEY), '{"room":', 400)), 'bad_json');
  assert.equal(codeOf(await post(bearer(KEY), '{"room":"chat:lobby"}', 400)), 'bad_request');
  assert.equal(codeOf(await post(bearer(KEY), '{"room":"chat lobby","data":1}', 400)), 'bad_room');
  assert.equal(codeOf(await post(bearer(KEY), '{"room":"chat:lobby","data":1,"from":""}', 400)), 'bad_request');
  assert.equal(codeOf(await post({}, message, 401)), 'missing_token');
  // Errors too carry CORS headers for an allowed origin, so that its pages can read why.
  const sharedError = await post({ Origin: ALLOWED }, message, 401);
  assert.equal(sharedError.headers['access-control-allow-origin'], ALLOWED);
  assert.equal(sharedError.headers.vary, 'Origin');
  assert.equal(codeOf(await post(bearer(jwt({}, 'another-secret-0123456789abcdef')), message, 401)), 'bad_signature');
  assert.equal(codeOf(await post(bearer('not-a-key'), message, 401)), 'bad_token');
  assert.equal(codeOf(await post(bearer(jwt({ rooms: { sub: ['*'] } })), message, 403)), 'forbidden');
  assert.equal(codeOf(await post(bearer(jwt()), message, 403)), 'forbidden');  // a token may not set from
  const refused = await post({ ...bearer(KEY), Origin: EVIL }, message, 403);
  assert.equal(codeOf(refused), 'origin_not_allowed');
  assert.equal(refused.headers['access-control-allow-origin'], undefined);
  const big = JSON.stringify({ room: 'chat:lobby', data: 'x'.repeat(5000) });
  assert.equal(codeOf(await post(bearer(KEY), big, 413)), 'too_large');
});

test('GET /api/presence', async () => {
  const url = (query) => `${main.url}/api/presence${query}`;
  const res = await call('GET', url('?room=chat%3Alobby'), { headers: bearer(KEY), status: 200 });
  assert.equal(JSON.parse(res.body).room, 'chat:lobby');
  await call('GET', url('?room=chat:lobby'), { headers: bearer(jwt()), status: 200 });
  assert.equal(codeOf(await call('GET', url(''), { headers: bearer(KEY), status: 400 })), 'bad_request');
  assert.equal(codeOf(await call('GET', url('?room=a%20b'), { headers: bearer(KEY), status: 400 })), 'bad_room');
  const expired = jwt({ exp: Math.floor(Date.now() / 1000) - 3600 });
  assert.equal(codeOf(await call('GET', url('?room=a'), { headers: bearer(expired), status: 401 })), 'expired');
  const noPresence = jwt({ rooms: { sub: ['*'] } });
  assert.equal(codeOf(await call('GET', url('?room=a'), { headers: bearer(noPresence), status: 403 })), 'forbidden');
  assert.equal(codeOf(await call('GET', url('?room=a'), { headers: { ...bearer(KEY), Origin: EVIL }, status: 403 })),
    'origin_not_allowed');
});

test('GET /api/history', async () => {
  const url = (query) => `${main.url}/api/history${query}`;
  await call('POST', `${main.url}/api/publish`, { headers: bearer(KEY), body: '{"room":"news","data":[1]}', status: 200 });
  const res = await call('GET', url('?room=news&limit=10'), { headers: bearer(KEY), status: 200 });
  assert.deepEqual(JSON.parse(res.body).messages.map((m) => m.data), [[1]]);
  await call('GET', url('?room=nobody-here'), { headers: bearer(jwt()), status: 200 });
  for (const query of ['', '?room=news&limit=0', '?room=news&limit=1001', '?room=news&limit=ten']) {
    assert.equal(codeOf(await call('GET', url(query), { headers: bearer(KEY), status: 400 })), 'bad_request');
  }
  assert.equal(codeOf(await call('GET', url('?room=%24'), { headers: bearer(KEY), status: 400 })), 'bad_room');
  assert.equal(codeOf(await call('GET', url('?room=news'), { status: 401 })), 'missing_token');
  const publishOnly = jwt({ rooms: { pub: ['*'] } });
  assert.equal(codeOf(await call('GET', url('?room=news'), { headers: bearer(publishOnly), status: 403 })), 'forbidden');
});

test('the server API (API keys only)', async () => {
  const post = (p, body, status, headers = bearer(KEY)) =>
    call('POST', `${main.url}/api/${p}`, { headers, body: typeof body === 'string' ? body : JSON.stringify(body), status });
  const get = (p, status, headers = bearer(KEY)) => call('GET', `${main.url}/api/${p}`, { headers, status });
  const token = bearer(jwt());
  const evil = { ...bearer(KEY), Origin: EVIL };

  let res = await post('disconnect', { user: 'nobody', reason: 'bye', until: Math.floor(Date.now() / 1000) + 60 }, 200);
  assert.deepEqual(JSON.parse(res.body).nodes, { answered: 1, known: 1 });
  await post('disconnect', { jti: 'token-1' }, 200);
  assert.equal(codeOf(await post('disconnect', '{', 400)), 'bad_json');
  assert.equal(codeOf(await post('disconnect', {}, 400)), 'bad_request');
  assert.equal(codeOf(await post('disconnect', { user: 'a', code: 1000 }, 400)), 'bad_request');
  assert.equal(codeOf(await post('disconnect', { user: 'a' }, 401, {})), 'missing_token');
  assert.equal(codeOf(await post('disconnect', { user: 'a' }, 403, token)), 'forbidden');
  assert.equal(codeOf(await post('disconnect', { user: 'a' }, 403, evil)), 'origin_not_allowed');

  res = await post('unsubscribe', { user: 'nobody', room: 'chat:lobby' }, 200);
  assert.equal(JSON.parse(res.body).unsubscribed, 0);
  assert.equal(codeOf(await post('unsubscribe', { user: 'a', room: 'a b' }, 400)), 'bad_room');
  assert.equal(codeOf(await post('unsubscribe', { user: 'a' }, 400)), 'bad_request');
  await post('unsubscribe', { user: 'a', room: 'a' }, 401, {});
  await post('unsubscribe', { user: 'a', room: 'a' }, 403, token);

  res = await post('broadcast', { rooms: ['news:a', 'news:b'], data: { n: 1 }, idem: 'openapi-1' }, 200);
  assert.deepEqual(Object.keys(JSON.parse(res.body).offsets).sort(), ['news:a', 'news:b']);
  assert.equal(codeOf(await post('broadcast', { rooms: [], data: 1 }, 400)), 'bad_request');
  assert.equal(codeOf(await post('broadcast', { rooms: ['a b'], data: 1 }, 400)), 'bad_room');
  await post('broadcast', { rooms: ['a'], data: 1 }, 401, {});
  await post('broadcast', { rooms: ['a'], data: 1 }, 403, token);

  const stream = await openStream(`${main.url}/sse?rooms=chat:listed`, bearer(jwt({ sub: 'carol' })));
  try {
    await stream.next((e) => e.data.type === 'subscribed');
    res = await get('rooms?pattern=chat:*&limit=1', 200);
    assert.deepEqual(JSON.parse(res.body).rooms, [{ room: 'chat:listed', subscribers: 1 }]);
    res = await get('users/carol', 200);
    assert.deepEqual(JSON.parse(res.body).rooms, ['chat:listed']);
    res = await get('presence-stats?room=chat%3Alisted', 200);
    assert.equal(JSON.parse(res.body).connections, 1);
  } finally {
    stream.close();
  }
  assert.equal(JSON.parse((await get('users/nobody%20here', 200)).body).online, false);
  assert.equal(codeOf(await get('rooms?limit=0', 400)), 'bad_request');
  await get('rooms', 401, {});
  await get('rooms', 403, token);
  assert.equal(codeOf(await get('presence-stats', 400)), 'bad_request');
  await get('presence-stats?room=a', 401, {});
  await get('presence-stats?room=a', 403, token);
  assert.equal(codeOf(await get(`users/${'x'.repeat(1025)}`, 400)), 'bad_request');
  await get('users/alice', 401, {});
  await get('users/alice', 403, token);
});

test('CORS preflights of /api/*, /sse and /poll', async () => {
  for (const [p, method, methods] of [['/api/publish', 'POST'], ['/api/presence', 'GET'], ['/api/history', 'GET'], ['/sse', 'GET'],
    ['/poll', 'DELETE', 'GET, DELETE']]) {
    const url = `${main.url}${p}`;
    const asked = { Origin: ALLOWED, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization' };
    const res = await call('OPTIONS', url, { headers: asked, status: 204 });
    assert.equal(res.headers['access-control-allow-origin'], ALLOWED);
    assert.equal(res.headers['access-control-allow-methods'], methods ?? method);
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    const plain = await call('OPTIONS', url, { status: 204 });
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    assert.equal(plain.headers['access-control-allow-methods'], undefined);
    assert.equal(codeOf(await call('OPTIONS', url, { headers: { ...asked, Origin: EVIL }, status: 403 })), 'origin_not_allowed');
  }
});

test('GET /sse: a stream, its events, resuming', async () => {
  const token = jwt({ sub: 'bob', rooms: { sub: ['chat:*'], pub: ['chat:*'], presence: ['chat:*'] } });
  const url = `${main.url}/sse?rooms=chat:lobby,chat:news,secret&presence=chat:lobby&token=${token}`;
  const s = await stream(url, { Origin: ALLOWED });
  try {
    assert.equal(s.status, 200);
    assert.equal(s.headers['access-control-allow-origin'], ALLOWED);
    await s.next((e) => e.data.type === 'subscribed' && e.data.room === 'chat:lobby');
    await s.next((e) => e.data.type === 'subscribed' && e.data.room === 'chat:news');
    const refused = await s.next((e) => e.data.type === 'unsubscribed');
    assert.equal(refused.data.code, 'forbidden');
    await s.next((e) => e.data.type === 'join' && e.data.user === 'bob');
    await call('POST', `${main.url}/api/publish`, { headers: bearer(KEY), body: '{"room":"chat:news","data":"x"}', status: 200 });
    const message = await s.next((e) => e.data.type === 'message');
    assert.match(message.id, /^chat:lobby=\d+\.[0-9a-f]+,chat:news=\d+\.[0-9a-f]+$/);
    s.check();
    // Resuming from before that message gets it again, and says the room was recovered.
    const before = s.events.find((e) => e.data.type === 'subscribed' && e.data.room === 'chat:news').id;
    const again = await stream(`${main.url}/sse?rooms=chat:news`, { ...bearer(token), 'Last-Event-ID': before });
    try {
      assert.equal(again.status, 200);
      const subscribed = await again.next((e) => e.data.type === 'subscribed');
      assert.equal(subscribed.data.recovered, true);
      assert.deepEqual((await again.next((e) => e.data.type === 'message')).data.data, 'x');
      again.check();
    } finally {
      again.close();
    }
  } finally {
    s.close();
  }
  const empty = await stream(`${main.url}/sse`, bearer(jwt()));
  assert.equal(empty.status, 200);
  empty.close();
});

test('GET /poll, DELETE /poll: a long-polling session, its events, resuming, its end', async () => {
  const token = jwt({ sub: 'bob', rooms: { sub: ['chat:*'], pub: ['chat:*'], presence: ['chat:*'] } });
  const poll = async (query, headers = {}) => {
    const res = await call('GET', `${main.url}/poll?${query}`, { headers, status: 200 });
    return { res, answer: JSON.parse(res.body) };
  };
  // The first poll opens the session; its events come to it and the polls after it.
  const { res: first, answer: opened } = await poll(`rooms=chat:lobby,chat:news,secret&presence=chat:lobby&token=${token}`, { Origin: ALLOWED });
  assert.equal(first.headers['access-control-allow-origin'], ALLOWED);
  assert.equal(first.headers['cache-control'], 'no-store');
  const session = opened.session;
  const events = [...opened.events];
  let next = opened.next;
  const until = async (pred) => {
    for (let i = 0; i < 5 && !events.some(pred); i++) {
      const { answer } = await poll(`session=${session}&ack=${next}`);
      assert.equal(answer.session, session);
      events.push(...answer.events);
      next = answer.next;
    }
    const found = events.find(pred);
    assert.ok(found, `no such event among ${JSON.stringify(events)}`);
    return found;
  };
  await until((e) => e.data.type === 'subscribed' && e.data.room === 'chat:lobby');
  const news = await until((e) => e.data.type === 'subscribed' && e.data.room === 'chat:news');
  assert.equal((await until((e) => e.data.type === 'unsubscribed')).data.code, 'forbidden');
  await until((e) => e.data.type === 'join' && e.data.user === 'bob');
  await call('POST', `${main.url}/api/publish`, { headers: bearer(KEY), body: '{"room":"chat:news","data":"x"}', status: 200 });
  const message = await until((e) => e.data.type === 'message');
  assert.match(message.id, /^chat:lobby=\d+\.[0-9a-f]+,chat:news=\d+\.[0-9a-f]+$/);
  // Quiet: answered empty at the poll timeout.
  const { answer: quiet } = await poll(`session=${session}&ack=${next}`);
  assert.deepEqual(quiet.events, []);
  // A session the node does not know: a new one, resuming from the last event id.
  const { answer: resumed } = await poll(`session=${'0'.repeat(32)}&rooms=chat:news`, { ...bearer(token), 'Last-Event-ID': news.id });
  assert.notEqual(resumed.session, session);
  const again = [...resumed.events];
  if (!again.some((e) => e.data.type === 'message')) {
    again.push(...(await poll(`session=${resumed.session}&ack=${resumed.next}`)).answer.events);
  }
  assert.equal(again.find((e) => e.data.type === 'subscribed').data.recovered, true);
  assert.equal(again.find((e) => e.data.type === 'message').data.data, 'x');
  // A session without rooms is answered at once.
  const { answer: empty } = await poll('', bearer(jwt()));
  assert.deepEqual(empty.events, []);
  // Ending: 204, known or not.
  for (const s of [session, resumed.session, empty.session, session]) {
    await call('DELETE', `${main.url}/poll?session=${s}`, { status: 204 });
  }
  await call('DELETE', `${main.url}/poll?session=${session}`, { headers: { Origin: EVIL }, status: 403 });
});

test('GET /poll: refusals', async () => {
  const poll = async (query, headers, status) => {
    const res = await call('GET', `${main.url}/poll${query}`, { headers, status });
    return codeOf(res);
  };
  const token = bearer(jwt());
  assert.equal(await poll('?rooms=a,a', token, 400), 'bad_request');
  assert.equal(await poll('?rooms=a&presence=b', token, 400), 'bad_request');
  assert.equal(await poll('?rooms=a', { ...token, 'Last-Event-ID': 'garbage' }, 400), 'bad_request');
  assert.equal(await poll('?rooms=a&ack=x', token, 400), 'bad_request');
  assert.equal(await poll('?rooms=a', {}, 401), 'missing_token');
  assert.equal(await poll('?rooms=a', bearer(KEY), 401), 'bad_token');
  assert.equal(await poll('?rooms=a', { ...token, Origin: EVIL }, 403), 'origin_not_allowed');
});

test('GET /sse: refusals', async () => {
  const sse = async (query, headers, status) => {
    const res = await stream(`${main.url}/sse${query}`, headers);
    assert.equal(res.status, status, res.body);
    return codeOf(res);
  };
  const token = bearer(jwt());
  assert.equal(await sse('?rooms=a,a', token, 400), 'bad_request');
  assert.equal(await sse('?rooms=a,', token, 400), 'bad_request');
  assert.equal(await sse('?rooms=a&presence=b', token, 400), 'bad_request');
  assert.equal(await sse('?rooms=a', { ...token, 'Last-Event-ID': 'garbage' }, 400), 'bad_request');
  assert.equal(await sse('?rooms=a', {}, 401), 'missing_token');
  assert.equal(await sse('?rooms=a', bearer(KEY), 401), 'bad_token');  // API keys are not for streams
  assert.equal(await sse('?rooms=a', { ...token, Origin: EVIL }, 403), 'origin_not_allowed');
  assert.equal(await sse('?rooms=a', { ...token, 'X-Padding': 'x'.repeat(20000) }, 413), 'too_large');
});

test('the health checks, /metrics and /dev/token', async () => {
  const evil = { Origin: EVIL };
  await call('GET', `${main.url}/healthz`, { status: 200 });
  await call('HEAD', `${main.url}/healthz`, { status: 200 });
  await call('GET', `${main.url}/healthz`, { headers: evil, status: 403 });
  await call('GET', `${main.url}/readyz`, { status: 200 });
  await call('HEAD', `${main.url}/readyz`, { status: 200 });
  await call('GET', `${main.url}/readyz`, { headers: evil, status: 403 });
  const metrics = await call('GET', `${main.url}/metrics`, { status: 200 });
  assert.match(metrics.body, /^switchboard_connections \d+$/m);
  await call('GET', `${main.url}/metrics`, { headers: evil, status: 403 });
  const minted = await call('GET', `${main.url}/dev/token?user=bob`, { status: 200 });
  assert.equal(JSON.parse(minted.body).user, 'bob');
  await call('GET', `${main.url}/dev/token?user=`, { status: 400 });
  await call('GET', `${main.url}/dev/token?user=${'x'.repeat(65)}`, { status: 400 });
  await call('GET', `${main.url}/dev/token?user=bob`, { headers: evil, status: 403 });
});

test('HEAD: the headers of the GET, no body', async () => {
  const evil = { Origin: EVIL };
  for (const p of ['/healthz', '/readyz', '/metrics', '/dev/token?user=bob']) {
    await call('HEAD', `${main.url}${p}`, { status: 200 });
    await call('HEAD', `${main.url}${p}`, { headers: evil, status: 403 });
  }
  await call('HEAD', `${main.url}/dev/token?user=`, { status: 400 });
  await call('HEAD', `${main.url}/sse?rooms=a`, { headers: bearer(jwt()), status: 405 });
});

test('headers over the limit: 413 on every route', async () => {
  const padding = { 'X-Padding': 'x'.repeat(20000) };
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post']) {
      if (!item[m]) continue;
      const query = item[m].parameters?.some((q) => q.$ref || q.required) ? '?room=a&user=bob' : '';
      const res = await call(m.toUpperCase(), `${main.url}${p}${query}`, {
        headers: { ...bearer(KEY), ...padding }, body: m === 'post' ? '{"room":"a","data":1}' : undefined, status: 413 });
      assert.equal(res.headers.connection, 'close');
    }
  }
});

test('methods a path does not serve: 405 with Allow', async () => {
  for (const [p, item] of Object.entries(doc.paths)) {
    await call(item.delete ? 'PUT' : 'DELETE', `${main.url}${p}`, { headers: bearer(KEY), status: 405 });
  }
  await call('GET', `${main.url}/api/publish`, { headers: bearer(KEY), status: 405 });
  await call('HEAD', `${main.url}/api/presence?room=a`, { headers: bearer(KEY), status: 405 });
  await call('POST', `${main.url}/api/history?room=a`, { headers: bearer(KEY), body: '{}', status: 405 });
  await call('POST', `${main.url}/sse`, { status: 405 });
});

test('a cluster node without Redis, full: 503s, and no /dev/token without --dev', async () => {
  const node = await SwitchboardNode.start(['--redis', `redis://127.0.0.1:${await freePort()}`, '--allow-anonymous',
    '--api-keys', KEY, '--max-connections', '1']);
  try {
    const post = await call('POST', `${node.url}/api/publish`, { headers: bearer(KEY), body: '{"room":"a","data":1}', status: 503 });
    assert.equal(codeOf(post), 'unavailable');
    await call('GET', `${node.url}/api/presence?room=a`, { headers: bearer(KEY), status: 503 });
    await call('GET', `${node.url}/api/history?room=a`, { headers: bearer(KEY), status: 503 });
    // The server API: no node answers the control channel, or the broker takes nothing.
    for (const [p, body] of [['disconnect', { user: 'a' }], ['unsubscribe', { user: 'a', room: 'a' }],
      ['broadcast', { rooms: ['a'], data: 1 }]]) {
      const res = await call('POST', `${node.url}/api/${p}`, { headers: bearer(KEY), body: JSON.stringify(body), status: 503 });
      assert.equal(codeOf(res), 'unavailable');
    }
    for (const p of ['rooms', 'presence-stats?room=a', 'users/alice']) {
      await call('GET', `${node.url}/api/${p}`, { headers: bearer(KEY), status: 503 });
    }
    // Anonymous (--allow-anonymous): the call goes as far as the broker.
    await call('GET', `${node.url}/api/history?room=a`, { status: 503 });
    assert.equal(codeOf(await call('GET', `${node.url}/readyz`, { status: 503 })), 'unavailable');
    await call('HEAD', `${node.url}/readyz`, { status: 503 });
    assert.equal(codeOf(await call('GET', `${node.url}/dev/token?user=bob`, { status: 404 })), 'not_found');
    await call('HEAD', `${node.url}/dev/token?user=bob`, { status: 404 });
    const first = await stream(`${node.url}/sse?rooms=a`);
    try {
      assert.equal(first.status, 200);
      assert.equal((await first.next((e) => e.data.type === 'unsubscribed')).data.code, 'unavailable');
      first.check();
      const second = await stream(`${node.url}/sse?rooms=a`);
      assert.equal(second.status, 503);
      assert.equal(codeOf(second), 'too_many_connections');
      assert.equal(codeOf(await call('GET', `${node.url}/poll?rooms=a`, { status: 503 })), 'too_many_connections');
    } finally {
      first.close();
    }
  } finally {
    await node.stop();
  }
});

test('rate limits: 429 with Retry-After', async () => {
  const node = await SwitchboardNode.start(['--jwt-secret', SECRET, '--api-keys', KEY,
    '--http-publish-rate-per-key', '0.001', '--http-publish-burst', '1',
    '--handshake-rate-per-ip', '0.001', '--handshake-burst-per-ip', '1']);
  try {
    const body = '{"room":"a","data":1}';
    await call('POST', `${node.url}/api/publish`, { headers: bearer(KEY), body, status: 200 });
    const limited = await call('POST', `${node.url}/api/publish`, { headers: bearer(KEY), body, status: 429 });
    assert.equal(codeOf(limited), 'rate_limited');
    assert.equal(limited.headers['retry-after'], '1000');
    const first = await stream(`${node.url}/sse?rooms=a`, bearer(jwt()));
    first.close();
    assert.equal(first.status, 200);
    const second = await stream(`${node.url}/sse?rooms=a`, bearer(jwt()));
    assert.equal(second.status, 429);
    assert.equal(codeOf(second), 'rate_limited');
    assert.equal(codeOf(await call('GET', `${node.url}/poll?rooms=a`, { headers: bearer(jwt()), status: 429 })), 'rate_limited');
  } finally {
    await node.stop();
  }
});

test('a token that expires: refresh, then close 4001; a draining node: 503 draining, then close 1001', async () => {
  const node = await SwitchboardNode.start(['--jwt-secret', SECRET, '--jwt-leeway', '0'], { drainDelayMs: 5000 });
  try {
    // A token good for 2 s at most: the node asks for a new one halfway, and ends the stream at exp.
    const short = await stream(`${node.url}/sse?rooms=a`, bearer(jwt({ exp: Math.floor(Date.now() / 1000) + 2 })));
    const refresh = await short.next((e) => e.data.type === 'refresh');
    const expired = await short.next((e) => e.data.type === 'close');
    assert.equal(expired.data.code, 4001);
    assert.ok(short.events.indexOf(refresh) < short.events.indexOf(expired));
    short.check();
    short.close();
    const s = await stream(`${node.url}/sse?rooms=a`, bearer(jwt()));
    await s.next((e) => e.data.type === 'subscribed');
    node.child.kill('SIGTERM');
    await node.logged(/draining for/);
    assert.equal(codeOf(await call('GET', `${node.url}/readyz`, { status: 503 })), 'draining');
    await call('HEAD', `${node.url}/readyz`, { status: 503 });
    const refused = await stream(`${node.url}/sse?rooms=a`, bearer(jwt()));
    assert.equal(refused.status, 503);
    assert.equal(codeOf(refused), 'draining');
    const close = await s.next((e) => e.data.type === 'close');
    assert.equal(close.data.code, 1001);
    s.check();
    assert.deepEqual(await node.exited, { code: 0, signal: null });
  } finally {
    await node.stop();
  }
});

test('every documented operation and status was answered by a node', () => {
  const missing = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    if (!covered.has(`${p} 405`)) missing.push(`${p}: a method it does not serve (405)`);
    for (const m of METHODS) {
      for (const status of Object.keys(item[m]?.responses ?? {})) {
        if (!covered.has(`${m} ${p} ${status}`)) missing.push(`${m.toUpperCase()} ${p} ${status}`);
      }
    }
  }
  assert.deepEqual(missing, [], 'documented in openapi.yaml but never answered in these tests');
});
