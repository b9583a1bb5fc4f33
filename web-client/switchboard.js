// Switchboard client: one ES module, no dependencies, for browsers and Node >= 18.
// The wire protocol it speaks is protocol/PROTOCOL.md; the API is described in README.md
// beside this file and typed in switchboard.d.ts.
//
//   const client = new Switchboard('wss://chat.example.com/ws', { getToken });
//   const room = client.subscribe('chat:lobby', { presence: true });
//   room.on('message', ({ data, from }) => …);
//   client.connect();
//   await room.publish({ text: 'hello' });

const OPEN = 1; // WebSocket.OPEN, the same in every implementation

const DEFAULTS = Object.freeze({
  minReconnectDelay: 500,
  maxReconnectDelay: 30000,
  heartbeatInterval: 20000,
  heartbeatTimeout: 10000,
  requestTimeout: 10000,
});

// A connection that stayed open this long resets the backoff: the next retry is a quick one.
const STABLE_AFTER_MS = 5000;

// Close codes (PROTOCOL.md, "Close codes").
const CLOSE_NORMAL = 1000;
const CLOSE_ABNORMAL = 1006; // what a dropped connection reports; never sent
const CLOSE_TOKEN_EXPIRED = 4001;

// Subscribe failures worth retrying on the same connection; any other code ends the room.
const RETRYABLE = new Set(['timeout', 'rate_limited', 'unavailable', 'internal']);

// Room names (PROTOCOL.md, "Room names"): 1-200 bytes of letters, digits and : _ - . @ /
const ROOM_NAME = /^[A-Za-z0-9:_\-.@/]{1,200}$/;

const now = () => (globalThis.performance?.now ? globalThis.performance.now() : Date.now());

/**
 * An error of the client or of the node. `code` is the protocol's error code (`bad_room`,
 * `forbidden`, `rate_limited`, …) or one of the client's own: `timeout`, `disconnected`,
 * `queue_full`, `token_error`, `connect_error`.
 */
export class SwitchboardError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {{room?: string, op?: string, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message || code, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SwitchboardError';
    /** @type {string} */
    this.code = code;
    /** @type {string | undefined} */
    this.room = details.room;
    /** @type {string | undefined} */
    this.op = details.op;
  }
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): exponential backoff with
 * full jitter above the floor, uniform in [min, min(max, min * 2^(attempt+1))].
 * @param {number} attempt
 * @param {number} min
 * @param {number} max
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, min, max, random = Math.random) {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt + 1, 30));
  return min + random() * Math.max(0, ceiling - min);
}

/**
 * The URL the WebSocket opens: `url` resolved against the page (so `/ws` works in a browser,
 * `http(s):` becoming `ws(s):`), without a fragment, with `token=<token>` in its query when a
 * token is given (replacing any `token` already there, keeping every other parameter).
 * @param {string | URL} url
 * @param {string | null | undefined} token
 * @returns {string}
 */
export function connectionUrl(url, token) {
  const base = globalThis.location?.href;
  const u = base ? new URL(String(url), base) : new URL(String(url));
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.hash = '';
  if (token != null && token !== '') {
    const params = new URLSearchParams(u.search);
    params.delete('token');
    params.append('token', String(token));
    u.search = params.toString();
  }
  return u.toString();
}

/**
 * The URL at which a node says why a handshake of `url` with `token` would be refused: the
 * WebSocket path over plain HTTP(S), without an upgrade (`wss://host/ws?token=…` →
 * `https://host/ws?token=…`).
 */
export function admissionUrl(url, token) {
  const u = new URL(connectionUrl(url, token));
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.toString();
}

// Refusals that say the token is not good: final when the client has no getToken() to ask for
// another one.
const TOKEN_REFUSALS = new Set(['missing_token', 'bad_token', 'expired', 'not_yet_valid', 'bad_signature',
  'bad_audience', 'bad_issuer', 'unknown_key', 'alg_not_allowed']);

function positive(name, value, fallback, allowZero = false) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`Switchboard: option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
  return value;
}

// What a publish resolves to: the node's ack without the request's id.
const ack = (reply) => ({ offset: reply.offset });

function withTimeout(promise, ms, onTimeout) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Reports an exception thrown by an application's listener without breaking the client's state.
function reportListenerError(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else setTimeout(() => { throw err; });
}

/** A minimal event emitter shared by the client and its rooms. */
class Emitter {
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();

  /**
   * Adds a listener; returns a function that removes it.
   * @param {string} event
   * @param {Function} listener
   * @returns {() => void}
   */
  on(event, listener) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /**
   * Adds a listener called at most once; returns a function that removes it.
   * @param {string} event
   * @param {Function} listener
   * @returns {() => void}
   */
  once(event, listener) {
    const wrapper = (...args) => { off(); listener(...args); };
    wrapper.listener = listener; // so that off(event, listener) finds it
    const off = this.on(event, wrapper);
    return off;
  }

  /**
   * @param {string} event
   * @param {Function} listener
   */
  off(event, listener) {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of set) {
      if (fn === listener || fn.listener === listener) { set.delete(fn); break; }
    }
    if (set.size === 0) this.#listeners.delete(event);
  }

  /** @protected */
  listenerCount(event) {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** @protected */
  emit(event, ...args) {
    const set = this.#listeners.get(event);
    if (!set) return false;
    for (const fn of [...set]) {
      try { fn(...args); } catch (err) { reportListenerError(err); }
    }
    return true;
  }
}

/**
 * A room the client is subscribed to, or is subscribing to. Made by `client.subscribe()`.
 * Events: `message` ({room, data, from, offset}), `join` / `leave` ({room, user, info}; with
 * `presence: true`), `subscribed` ({room, resubscribed, recovered, position}), `unsubscribed`
 * ({room, code?, message?}), `error` (SwitchboardError).
 *
 * The room keeps its position (the offset and epoch of the last message received). Every
 * resubscribe — after a reconnect, or after a gap in the offsets — sends it, and the node
 * replays what was missed: `subscribed` then says `recovered: true`. `recovered: false` means
 * the node's history did not reach back: reload what the room shows (e.g. with `history()`).
 * `subscribed` with `recovered: false` also comes while connected, when the node tells that the
 * room's epoch changed under it (Redis lost the room's history) or that it lost messages.
 */
export class Room extends Emitter {
  #client;
  #hooks;

  /** @internal */
  constructor(client, name, presence, hooks) {
    super();
    this.#client = client;
    this.#hooks = hooks;
    /** The room's name. @type {string} */
    this.name = name;
    /** Whether this subscription receives join/leave events. @type {boolean} */
    this.presenceEvents = presence;
    /** `subscribing` (until the node's ok, and again while reconnecting), `subscribed`, or `unsubscribed` (for good). @type {'subscribing' | 'subscribed' | 'unsubscribed'} */
    this.state = 'subscribing';
    /** Where the room's stream stands for this client: the last message received, or the subscribe reply's position. null before the first reply. @type {{offset: number, epoch: string} | null} */
    this.position = null;
  }

  /** The client this room belongs to. */
  get client() { return this.#client; }

  /**
   * Publishes `data` (any JSON value) to the room; resolves when the node accepted it.
   * @param {unknown} data
   * @returns {Promise<void>}
   */
  publish(data) { return this.#client.publish(this.name, data); }

  /**
   * The users present in the room, sorted by user id.
   * @returns {Promise<Array<{user: string, info: object, conns: number}>>}
   */
  presence() { return this.#client.presence(this.name); }

  /**
   * The room's latest messages kept by the node, oldest first (each as a `message` event).
   * @param {{limit?: number}} [options] limit: 1-1000, default 100
   * @returns {Promise<{messages: Array<{room: string, data: unknown, from: string, offset: number}>, position: {offset: number, epoch: string}}>}
   */
  history(options) { return this.#client.history(this.name, options); }

  /**
   * Leaves the room: no event of it is delivered from now on, and it is not resubscribed.
   * Resolves when the node confirmed (at once when not connected).
   * @returns {Promise<void>}
   */
  unsubscribe() { return this.#hooks.unsubscribe(this); }

  /** @internal */
  _emit(event, ...args) {
    if (event === 'error' && this.listenerCount('error') === 0) {
      this.#hooks.unhandledError(args[0]);
      return;
    }
    this.emit(event, ...args);
  }
}

/**
 * The Server-Sent Events endpoints that go with a WebSocket URL: `stream` (GET /sse) and `api`
 * (the HTTP API's base), both http(s) and beside the WebSocket path: `wss://host/ws` gives
 * `https://host/sse` and `https://host/api/`. Relative URLs resolve against the page.
 * @param {string | URL} url
 * @returns {{stream: string, api: string}}
 */
export function sseUrls(url) {
  const base = globalThis.location?.href;
  const u = base ? new URL(String(url), base) : new URL(String(url));
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  u.hash = '';
  u.search = '';
  const dir = u.pathname.slice(0, u.pathname.lastIndexOf('/') + 1);
  return { stream: new URL(`${dir}sse`, u).toString(), api: new URL(`${dir}api/`, u).toString() };
}

/**
 * Splits a text/event-stream into events as its text arrives (the WHATWG "event stream"
 * interpretation, without `event:` names and `retry:`, which Switchboard does not send).
 * `onEvent({data, id})` for each event with data; `onComment()` for each comment (keep-alives).
 */
export class EventStreamParser {
  #buffer = '';
  #data = null;
  #id = undefined;
  #onEvent;
  #onComment;

  constructor(onEvent, onComment = () => {}) {
    this.#onEvent = onEvent;
    this.#onComment = onComment;
  }

  /** @param {string} text */
  push(text) {
    this.#buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      // A lone '\r' at the end may be the first half of "\r\n": wait for more.
      if (!m || (m[0] === '\r' && m.index === this.#buffer.length - 1)) return;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      this.#line(line);
    }
  }

  #line(line) {
    if (line === '') {
      if (this.#data !== null) this.#onEvent({ data: this.#data, id: this.#id });
      this.#data = null;
      this.#id = undefined;
      return;
    }
    if (line.startsWith(':')) { this.#onComment(); return; }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }
}

/**
 * The fallback transport: looks like a WebSocket to the client (readyState, send, close and
 * the on* handlers) and speaks HTTP underneath. Messages come on a Server-Sent Events stream
 * (GET /sse, read with fetch so that the token goes in a header), which is opened again with
 * Last-Event-ID whenever the rooms change, so that nothing is lost between two streams.
 * Requests go to the HTTP API (publish, presence, history); their answers, and the stream's
 * "subscribed" events, are handed to the client as the replies a WebSocket would carry.
 */
class SseSocket {
  #urls;
  #token;
  #fetch;
  /** @type {Map<string, {presence: boolean, since: {offset: number, epoch: string} | null, replyTo: unknown}>} */
  #rooms = new Map();
  #lastEventId = '';
  #stream = null;       // AbortController of the stream being read
  #reopening = false;
  #pings = [];          // ping ids, answered by the next bytes of the stream
  #closeEvent = null;   // the node's close event, reported when the stream ends
  #announced = new Set(); // rooms the current stream has said "subscribed" for

  constructor(url, token, fetchImpl) {
    this.#urls = sseUrls(url);
    this.#token = token;
    this.#fetch = fetchImpl;
    this.readyState = 0;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    queueMicrotask(() => this.#open());
  }

  send(text) {
    if (this.readyState !== OPEN) throw new Error('not open');
    const m = JSON.parse(text);
    const room = m.room;
    switch (m.op) {
      case 'subscribe': {
        // The node refuses a whole stream for a bad name: refuse the one subscribe here instead,
        // as a WebSocket would (and a comma would split the name in the stream's room list).
        if (typeof room !== 'string' || !ROOM_NAME.test(room)) {
          this.#replyLater({ id: m.id, error: { code: 'bad_room', message: 'room names are 1-200 bytes of letters, digits and : _ - . @ /' } });
          return;
        }
        const since = m.since && typeof m.since.offset === 'number' && typeof m.since.epoch === 'string' ? m.since : null;
        this.#rooms.set(room, { presence: Boolean(m.presence), since, replyTo: m.id });
        this.#reopenSoon();
        return;
      }
      case 'unsubscribe':
        if (!this.#rooms.delete(room)) {
          this.#replyLater({ id: m.id, error: { code: 'not_subscribed', message: `not subscribed to ${room}` } });
          return;
        }
        this.#reopenSoon();
        this.#replyLater({ id: m.id, ok: true }); // the room's events are dropped from now on
        return;
      case 'publish':
        this.#api(m.id, 'publish', { method: 'POST', body: JSON.stringify({ room, data: m.data }) });
        return;
      case 'presence':
        this.#api(m.id, `presence?room=${encodeURIComponent(room)}`);
        return;
      case 'history':
        this.#api(m.id, `history?room=${encodeURIComponent(room)}${m.limit !== undefined ? `&limit=${encodeURIComponent(m.limit)}` : ''}`);
        return;
      case 'ping':
        this.#pings.push(m.id);
        return;
      case 'refresh':
        this.#token = m.token;
        this.#reopenSoon();
        this.#replyLater({ id: m.id, ok: true });
        return;
      default:
        this.#replyLater({ id: m.id, error: { code: 'unknown_op', message: `${m.op} is not available over Server-Sent Events` } });
    }
  }

  close() { this.#end(null); }
  terminate() { this.#end(null); }

  #headers() {
    const headers = {};
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    return headers;
  }

  #reply(obj) {
    if (this.readyState === OPEN) this.onmessage?.({ data: JSON.stringify(obj) });
  }

  // A reply known at once still comes after send() returns, as it would over a socket.
  #replyLater(obj) {
    queueMicrotask(() => this.#reply(obj));
  }

  async #api(id, path, init = {}) {
    let reply;
    try {
      const res = await this.#fetch(this.#urls.api + path, {
        ...init,
        headers: { ...this.#headers(), ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
        cache: 'no-store',
      });
      const body = await res.json().catch(() => ({}));
      reply = body && body.error ? { id, error: body.error }
        : res.ok ? { ...body, id } : { id, error: { code: 'internal', message: `HTTP ${res.status}` } };
    } catch (err) {
      reply = { id, error: { code: 'unavailable', message: `the HTTP API did not answer: ${err?.message ?? err}` } };
    }
    this.#reply(reply);
  }

  #reopenSoon() {
    if (this.#reopening) return;
    this.#reopening = true;
    queueMicrotask(() => {
      this.#reopening = false;
      if (this.readyState === OPEN) this.#open();
    });
  }

  // Where each room resumes: the stream's last event id, and the positions of new subscribes.
  #resumeFrom() {
    const at = new Map();
    for (const entry of this.#lastEventId ? this.#lastEventId.split(',') : []) {
      const eq = entry.indexOf('=');
      if (eq > 0) at.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    const out = [];
    for (const [name, room] of this.#rooms) {
      if (room.since) out.push(`${name}=${room.since.offset}.${room.since.epoch}`);
      else if (at.has(name)) out.push(`${name}=${at.get(name)}`);
    }
    return out.join(',');
  }

  async #open() {
    this.#stream?.abort();
    const controller = new AbortController();
    this.#stream = controller;
    this.#announced.clear();
    const rooms = [...this.#rooms.keys()];
    const presence = rooms.filter((name) => this.#rooms.get(name).presence);
    const query = new URLSearchParams();
    if (rooms.length) query.set('rooms', rooms.join(','));
    if (presence.length) query.set('presence', presence.join(','));
    const headers = { ...this.#headers(), Accept: 'text/event-stream' };
    const resume = this.#resumeFrom();
    if (resume) headers['Last-Event-ID'] = resume;
    let res;
    try {
      res = await this.#fetch(`${this.#urls.stream}${rooms.length || presence.length ? `?${query}` : ''}`, {
        headers, signal: controller.signal, cache: 'no-store',
      });
    } catch {
      if (this.#stream === controller) this.#end({ code: CLOSE_ABNORMAL, reason: 'the stream could not be opened' });
      return;
    }
    if (this.#stream !== controller) { res.body?.cancel().catch(() => {}); return; }
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => ({}));
      this.#end({ code: CLOSE_ABNORMAL, reason: body?.error?.message ?? `HTTP ${res.status}` });
      return;
    }
    if (this.readyState === 0) {
      this.readyState = OPEN;
      this.onopen?.({});
    }
    this.#closeEvent = null;
    // A keep-alive comment is traffic too: the client's heartbeat sees it as a frame it ignores.
    const parser = new EventStreamParser((event) => this.#event(controller, event), () => {
      if (this.#stream === controller) this.onmessage?.({ data: '{"type":"keepalive"}' });
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (this.#stream !== controller) return;
        if (done) break;
        parser.push(value);
        this.#alive();
      }
    } catch {
      if (this.#stream !== controller) return;
    }
    this.#end(this.#closeEvent ?? { code: CLOSE_ABNORMAL, reason: 'the stream ended' });
  }

  #alive() {
    const pings = this.#pings;
    this.#pings = [];
    for (const id of pings) this.#reply({ id, ok: true });
  }

  #event(controller, { data, id }) {
    if (this.#stream !== controller) return;
    if (id !== undefined) this.#lastEventId = id;
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (m === null || typeof m !== 'object') return;
    const room = typeof m.room === 'string' ? this.#rooms.get(m.room) : undefined;
    switch (m.type) {
      case 'subscribed':
        if (!room) return;
        if (this.#announced.has(m.room)) {
          // Said again on the same stream: the room's epoch changed (or messages were lost on
          // the way) and the room now stands at this position. Handed to the client as pushed.
          this.onmessage?.({ data });
          return;
        }
        this.#announced.add(m.room);
        room.since = null; // the stream's ids carry the room's position from here on
        if (room.replyTo !== undefined) {
          const reply = { id: room.replyTo, ok: true, offset: m.offset, epoch: m.epoch };
          if (m.recovered !== undefined) reply.recovered = m.recovered;
          room.replyTo = undefined;
          this.#reply(reply);
        } else if (m.recovered === false) {
          // A room carried over from the previous stream could not be resumed (its history
          // no longer reaches back): end the connection, so that the client subscribes again
          // and reports recovered:false, as after any reconnect.
          this.#end({ code: CLOSE_ABNORMAL, reason: 'a room could not be resumed on the new stream' });
        }
        return;
      case 'unsubscribed':
        if (!room) return;
        this.#rooms.delete(m.room);
        if (room.replyTo !== undefined) this.#reply({ id: room.replyTo, error: { code: m.code, message: m.message } });
        else this.#reply(m);
        return;
      case 'close':
        this.#closeEvent = { code: m.code, reason: m.reason ?? '' };
        return;
      case 'message':
      case 'join':
      case 'leave':
        if (room) this.onmessage?.({ data });
        return;
      default:
        this.onmessage?.({ data }); // refresh, and pushes this client does not know yet
    }
  }

  #end(closeEvent) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    const stream = this.#stream;
    this.#stream = null;
    stream?.abort();
    if (closeEvent) this.onclose?.(closeEvent);
  }
}

/**
 * A connection to a Switchboard node that reconnects by itself and keeps its rooms subscribed.
 * Events: `connecting` ({attempt}), `connected` ({reconnected}), `disconnected` ({code, reason,
 * willReconnect}), `reconnecting` ({delay, attempt}), `error` (SwitchboardError).
 */
export class Switchboard extends Emitter {
  #url;
  #token;
  #getToken;
  #WebSocket;
  #minDelay;
  #maxDelay;
  #heartbeatInterval;
  #heartbeatTimeout;
  #requestTimeout;
  #queueMax;
  #fetch;
  /** @type {Array<'websocket' | 'sse'>} */
  #transports;
  #fallbackAfter;
  /** @type {'websocket' | 'sse'} */
  #transport;
  #wsFailures = 0;      // WebSocket attempts in a row that never opened

  /** @type {'disconnected' | 'connecting' | 'connected' | 'reconnecting'} */
  #state = 'disconnected';
  #wanted = false;      // connect() was called and disconnect() was not
  #generation = 0;      // bumps on every attempt and on disconnect(): stale async work checks it
  #attemptToken = null; // the token of the current attempt, to ask why it was refused
  #attempt = 0;         // reconnect attempts since the last stable connection
  #everConnected = false;
  #ws = null;
  #openedAt = 0;
  #ready = false;       // open, rooms resubscribed and the offline queue flushed
  #connectTimer = null;
  #retryTimer = null;
  #heartbeatTimer = null;
  #deadTimer = null;
  #lastReceived = 0;
  #nextId = 1;
  /** @type {Map<number, {resolve: Function, reject: Function, timer: any, op: string, room?: string}>} */
  #pending = new Map();
  /** @type {Map<string, Room>} */
  #rooms = new Map();
  /** @type {Map<Room, number>} */
  #subscribeSeq = new Map();
  /** @type {WeakSet<Room>} */
  #everSubscribed = new WeakSet();
  /** @type {Array<{room: string, data: unknown, resolve: Function, reject: Function}>} */
  #queue = [];
  #onOnline = () => { if (this.#state === 'reconnecting') this.#openNow(); };

  /**
   * @param {string | URL} url the node's WebSocket endpoint, e.g. `wss://host/ws` (in a browser `/ws` works too)
   * @param {object} [options]
   * @param {string} [options.token] a JWT sent with every connection
   * @param {() => (string | null | undefined | Promise<string | null | undefined>)} [options.getToken]
   *   called for a fresh JWT before every (re)connect and when the node asks for a refresh; null: no token
   * @param {typeof WebSocket} [options.WebSocket] the WebSocket constructor (default: globalThis.WebSocket)
   * @param {number} [options.minReconnectDelay] ms, default 500
   * @param {number} [options.maxReconnectDelay] ms, default 30000
   * @param {number} [options.heartbeatInterval] ms of silence before a ping, default 20000; 0 turns heartbeats off
   * @param {number} [options.heartbeatTimeout] ms to wait for any traffic after a ping, default 10000
   * @param {number} [options.requestTimeout] ms for a reply, for getToken and for the handshake, default 10000
   * @param {{max: number}} [options.offlineQueue] keep up to `max` publishes made while disconnected
   * @param {Array<'websocket' | 'sse'>} [options.transports] what to connect with, in order of preference:
   *   default `['websocket', 'sse']` (Server-Sent Events plus the HTTP API when WebSockets keep failing)
   * @param {number} [options.fallbackAfter] WebSocket attempts in a row that never open before the
   *   next attempt uses Server-Sent Events, default 2
   * @param {typeof fetch} [options.fetch] the fetch function for Server-Sent Events (default: globalThis.fetch)
   */
  constructor(url, options = {}) {
    super();
    if (url == null || url === '') throw new TypeError('Switchboard: url is required');
    connectionUrl(url, null); // throws on a malformed URL now rather than at connect time
    this.#url = url;
    const o = options ?? {};
    if (o.token != null && typeof o.token !== 'string') throw new TypeError('Switchboard: token must be a string');
    if (o.getToken != null && typeof o.getToken !== 'function') throw new TypeError('Switchboard: getToken must be a function');
    this.#token = o.token ?? null;
    this.#getToken = o.getToken ?? null;
    this.#WebSocket = o.WebSocket ?? globalThis.WebSocket;
    this.#fetch = o.fetch ?? globalThis.fetch?.bind(globalThis);
    const transports = o.transports ?? ['websocket', 'sse'];
    if (!Array.isArray(transports) || transports.length === 0 || transports.some((t) => t !== 'websocket' && t !== 'sse')) {
      throw new TypeError("Switchboard: transports is a non-empty array of 'websocket' and 'sse'");
    }
    this.#transports = transports.filter((t) => (t === 'websocket' ? typeof this.#WebSocket === 'function' : typeof this.#fetch === 'function'));
    if (this.#transports.length === 0) {
      throw new TypeError(transports.includes('websocket')
        ? 'Switchboard: no WebSocket implementation; pass one as the WebSocket option (in Node: the ws package)'
        : 'Switchboard: no fetch implementation for Server-Sent Events; pass one as the fetch option');
    }
    this.#transport = this.#transports[0];
    this.#fallbackAfter = o.fallbackAfter ?? 2;
    if (!Number.isInteger(this.#fallbackAfter) || this.#fallbackAfter < 1) {
      throw new TypeError('Switchboard: fallbackAfter must be a positive integer');
    }
    this.#minDelay = positive('minReconnectDelay', o.minReconnectDelay, DEFAULTS.minReconnectDelay);
    this.#maxDelay = Math.max(this.#minDelay, positive('maxReconnectDelay', o.maxReconnectDelay, DEFAULTS.maxReconnectDelay));
    this.#heartbeatInterval = positive('heartbeatInterval', o.heartbeatInterval, DEFAULTS.heartbeatInterval, true);
    this.#heartbeatTimeout = positive('heartbeatTimeout', o.heartbeatTimeout, DEFAULTS.heartbeatTimeout);
    this.#requestTimeout = positive('requestTimeout', o.requestTimeout, DEFAULTS.requestTimeout);
    const max = o.offlineQueue?.max ?? 0;
    if (!Number.isInteger(max) || max < 0) throw new TypeError('Switchboard: offlineQueue.max must be a non-negative integer');
    this.#queueMax = max;
  }

  /** `disconnected`, `connecting`, `connected` or `reconnecting` (waiting to retry). */
  get state() { return this.#state; }

  /** What the current (or next) connection uses: `websocket`, or `sse` (Server-Sent Events and the HTTP API). */
  get transport() { return this.#transport; }

  /** The rooms subscribed or being subscribed. @returns {Room[]} */
  get rooms() { return [...this.#rooms.values()]; }

  /** Publishes waiting in the offline queue. */
  get queued() { return this.#queue.length; }

  /**
   * Starts connecting (and reconnecting, until `disconnect()`). Does nothing when already started.
   * @returns {this}
   */
  connect() {
    if (this.#wanted) return this;
    this.#wanted = true;
    this.#attempt = 0;
    globalThis.addEventListener?.('online', this.#onOnline);
    this.#openNow();
    return this;
  }

  /**
   * Closes the connection (1000) and stops reconnecting. Pending requests and queued publishes
   * are rejected with `disconnected`. Rooms are kept: a later `connect()` subscribes them again.
   */
  disconnect() {
    const was = this.#state;
    this.#wanted = false;
    this.#generation++;
    globalThis.removeEventListener?.('online', this.#onOnline);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const ws = this.#ws;
    if (ws) {
      this.#teardown(ws);
      try { ws.close(CLOSE_NORMAL, 'client disconnect'); } catch { /* already closing */ }
    }
    this.#rejectQueue('disconnected', 'disconnect() was called');
    this.#setState('disconnected');
    if (was !== 'disconnected') {
      this.emit('disconnected', { code: CLOSE_NORMAL, reason: 'client disconnect', willReconnect: false });
    }
  }

  /**
   * Subscribes to a room (now, or as soon as connected) and keeps it subscribed across
   * reconnects. Subscribing again to the same name returns the same Room and updates its
   * presence flag.
   * @param {string} name
   * @param {{presence?: boolean, since?: {offset: number, epoch: string}}} [options] presence: receive
   *   join/leave events; since: a position saved earlier (e.g. `room.position` kept across page
   *   loads), to receive the messages published after it first
   * @returns {Room}
   */
  subscribe(name, options = {}) {
    if (typeof name !== 'string') throw new TypeError('Switchboard: room name must be a string');
    const presence = Boolean(options?.presence);
    let room = this.#rooms.get(name);
    if (room) {
      if (room.presenceEvents === presence) return room;
      room.presenceEvents = presence;
    } else {
      room = new Room(this, name, presence, {
        unsubscribe: (r) => this.#unsubscribe(r),
        unhandledError: (err) => this.emit('error', err),
      });
      const since = options?.since;
      if (since && Number.isSafeInteger(since.offset) && since.offset >= 0 && typeof since.epoch === 'string') {
        room.position = { offset: since.offset, epoch: since.epoch };
      }
      this.#rooms.set(name, room);
    }
    if (this.#isOpen()) this.#sendSubscribe(room);
    return room;
  }

  /**
   * Publishes `data` (any JSON value) to a room, subscribed or not. Resolves on the node's ok
   * with the ack, `{offset}`: the message's number in the room (what subscribers receive as its
   * `offset`, so it can be logged or used to recognise one's own message); rejects with a SwitchboardError: a protocol code (`bad_room`, `forbidden`, `rate_limited`,
   * …), `timeout`, `disconnected` (not connected and no offline queue, or the connection was
   * lost before the reply: the message may or may not have been delivered), or `queue_full`.
   * @param {string} room
   * @param {unknown} data
   * @returns {Promise<{offset: number}>}
   */
  publish(room, data) {
    if (this.#ready || (this.#isOpen() && this.#queue.length === 0 && this.#queueMax === 0)) {
      return this.#request('publish', { room, data }).then(ack);
    }
    if (this.#queueMax > 0 && this.#wanted) {
      return new Promise((resolve, reject) => {
        this.#queue.push({ room, data, resolve, reject });
        while (this.#queue.length > this.#queueMax) {
          const oldest = this.#queue.shift();
          oldest.reject(new SwitchboardError('queue_full', `offline queue is full (max ${this.#queueMax})`, { room: oldest.room, op: 'publish' }));
        }
      });
    }
    if (this.#isOpen()) return this.#request('publish', { room, data }).then(ack);
    return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'publish' }));
  }

  /**
   * The users present in a room (subscribed or not), sorted by user id.
   * @param {string} room
   * @returns {Promise<Array<{user: string, info: object, conns: number}>>}
   */
  presence(room) {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'presence' }));
    return this.#request('presence', { room }).then((reply) => (Array.isArray(reply.users) ? reply.users : []));
  }

  /**
   * The latest messages of a room (subscribed or not) kept by the node, oldest first.
   * @param {string} room
   * @param {{limit?: number}} [options] limit: 1-1000, default 100
   * @returns {Promise<{messages: Array<{room: string, data: unknown, from: string, offset: number}>, position: {offset: number, epoch: string}}>}
   */
  history(room, options = {}) {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'history' }));
    const fields = { room };
    if (options?.limit !== undefined) fields.limit = options.limit;
    return this.#request('history', fields).then((reply) => ({
      messages: (Array.isArray(reply.messages) ? reply.messages : [])
        .map((m) => ({ room: m.room, data: m.data, from: m.from, offset: m.offset })),
      position: { offset: reply.offset, epoch: reply.epoch },
    }));
  }

  /**
   * An application-level round trip; resolves with the time it took in milliseconds.
   * @returns {Promise<number>}
   */
  ping() {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { op: 'ping' }));
    const start = now();
    return this.#request('ping', {}).then(() => now() - start);
  }

  // ---- connection ----

  #isOpen() {
    return this.#ws !== null && this.#state === 'connected' && this.#ws.readyState === OPEN;
  }

  #setState(state) {
    this.#state = state;
  }

  #openNow() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#open().catch((err) => this.emit('error', err));
  }

  async #open() {
    const generation = ++this.#generation;
    this.#setState('connecting');
    this.emit('connecting', { attempt: this.#attempt });
    if (generation !== this.#generation) return; // a listener called disconnect()
    let token = this.#token;
    if (this.#getToken) {
      try {
        token = await withTimeout(Promise.resolve().then(() => this.#getToken()), this.#requestTimeout,
          () => new SwitchboardError('timeout', 'getToken() did not answer in time'));
      } catch (err) {
        if (generation !== this.#generation) return;
        this.emit('error', err instanceof SwitchboardError && err.code === 'timeout'
          ? new SwitchboardError('token_error', err.message)
          : new SwitchboardError('token_error', `getToken() failed: ${err?.message ?? err}`, { cause: err }));
        this.#scheduleReconnect();
        return;
      }
      if (generation !== this.#generation) return; // disconnect() or another attempt meanwhile
    }
    this.#attemptToken = token;
    let ws;
    try {
      ws = this.#transport === 'sse'
        ? new SseSocket(this.#url, token, this.#fetch)
        : new this.#WebSocket(connectionUrl(this.#url, token));
    } catch (err) {
      this.emit('error', new SwitchboardError('connect_error', `cannot open the ${this.#transport === 'sse' ? 'stream' : 'WebSocket'}: ${err?.message ?? err}`, { cause: err }));
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    ws.onopen = () => this.#onOpen(ws);
    ws.onmessage = (event) => this.#onMessage(ws, event.data);
    ws.onclose = (event) => this.#onClose(ws, event.code ?? CLOSE_ABNORMAL, event.reason ?? '');
    ws.onerror = () => { /* a close event follows */ };
    this.#connectTimer = setTimeout(() => this.#drop(ws, 'handshake timeout'), this.#requestTimeout);
  }

  #onOpen(ws) {
    if (ws !== this.#ws) return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#openedAt = now();
    this.#lastReceived = this.#openedAt;
    const reconnected = this.#everConnected;
    this.#everConnected = true;
    if (this.#transport === 'websocket') this.#wsFailures = 0;
    this.#setState('connected');
    this.#armHeartbeat(ws);
    this.emit('connected', { reconnected, transport: this.#transport });
    if (ws !== this.#ws) return; // a listener called disconnect()
    const subscribes = [...this.#rooms.values()].map((room) => this.#sendSubscribe(room));
    Promise.allSettled(subscribes).then(() => {
      if (ws !== this.#ws || !this.#isOpen()) return;
      this.#flushQueue();
      this.#ready = true;
    });
  }

  #onClose(ws, code, reason) {
    if (ws !== this.#ws) return;
    const opened = this.#state === 'connected';
    const openFor = opened ? now() - this.#openedAt : 0;
    this.#chooseTransport();
    this.#teardown(ws);
    if (openFor >= STABLE_AFTER_MS) this.#attempt = 0;
    if (!opened && code === CLOSE_ABNORMAL && this.#fetch) {
      this.#askWhyRefused(code, reason);
      return;
    }
    this.#lost(code, reason);
  }

  // A connection that never opened: a browser does not say why (a WebSocket reports 1006, a
  // stream refused by CORS only fails), so ask the node what a handshake would be told, and stop
  // for good when it is a refusal no retry can change (the page's origin is not allowed, or the
  // token is refused and there is no getToken() to ask for another).
  async #askWhyRefused(code, reason) {
    const generation = this.#generation;
    let refusal = null;
    try {
      const res = await withTimeout(this.#fetch(admissionUrl(this.#url, this.#attemptToken), { cache: 'no-store' }),
        this.#requestTimeout, () => new Error('no answer'));
      const body = await res.json().catch(() => null);
      if (!res.ok && typeof body?.error?.code === 'string' && body.error.code !== 'upgrade_required') refusal = body.error;
    } catch { /* the node is unreachable: nothing more to learn */ }
    if (generation !== this.#generation || !this.#wanted) return; // disconnect() or connect() meanwhile
    const known = refusal && (refusal.code === 'origin_not_allowed' || TOKEN_REFUSALS.has(refusal.code));
    if (!known) {
      this.#lost(code, reason);
      return;
    }
    const final = refusal.code === 'origin_not_allowed' || !this.#getToken;
    this.emit('error', new SwitchboardError(refusal.code, refusal.message, { op: 'connect' }));
    if (generation !== this.#generation || !this.#wanted) return; // a listener called disconnect()
    this.#lost(code, refusal.message ?? reason, final ? refusal.code : null);
  }

  // Gives up on a connection that is not answering, without waiting for a close handshake.
  #drop(ws, reason) {
    if (ws !== this.#ws) return;
    this.#chooseTransport();
    this.#teardown(ws);
    try {
      if (typeof ws.terminate === 'function') ws.terminate(); // the ws package: no close handshake on a dead link
      else ws.close(4000, reason);
    } catch { /* already closed */ }
    this.#lost(CLOSE_ABNORMAL, reason);
  }

  // The transport of the next attempt, as a connection ends: after WebSocket attempts that keep
  // failing to open (a proxy that refuses upgrades), Server-Sent Events; after any Server-Sent
  // Events connection, one WebSocket attempt again, back to Server-Sent Events if it fails.
  #chooseTransport() {
    const both = this.#transports.length === 2;
    if (this.#transport === 'websocket') {
      if (this.#state === 'connected') return;
      if (++this.#wsFailures >= this.#fallbackAfter && both) this.#transport = 'sse';
    } else if (both) {
      this.#transport = 'websocket';
      this.#wsFailures = this.#fallbackAfter - 1;
    }
  }

  // `refused`: the code of a refusal that ends the connecting for good (see #askWhyRefused).
  #lost(code, reason, refused = null) {
    const expired = code === CLOSE_TOKEN_EXPIRED && !this.#getToken;
    const final = expired || refused !== null;
    const willReconnect = this.#wanted && !final;
    if (!willReconnect) {
      this.#wanted = false;
      globalThis.removeEventListener?.('online', this.#onOnline);
      this.#rejectQueue('disconnected', expired ? 'the token expired' : refused ? `refused: ${refused}` : 'disconnected');
      this.#setState('disconnected');
    }
    const generation = this.#generation;
    this.emit('disconnected', refused ? { code, reason, willReconnect, refused } : { code, reason, willReconnect });
    // Unless a listener called disconnect() or connect() meanwhile.
    if (willReconnect && this.#wanted && generation === this.#generation) this.#scheduleReconnect();
  }

  // Detaches a socket: timers stopped, handlers removed, pending requests rejected, rooms back
  // to `subscribing`.
  #teardown(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    if (this.#ws === ws) this.#ws = null;
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#deadTimer);
    this.#connectTimer = this.#heartbeatTimer = this.#deadTimer = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new SwitchboardError('disconnected', 'the connection was lost before the reply', { room: p.room, op: p.op }));
    }
    for (const room of this.#rooms.values()) room.state = 'subscribing';
    this.#subscribeSeq.clear();
  }

  #scheduleReconnect() {
    if (!this.#wanted) return;
    const delay = Math.round(backoffDelay(this.#attempt, this.#minDelay, this.#maxDelay));
    const attempt = this.#attempt++;
    this.#setState('reconnecting');
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => { this.#retryTimer = null; this.#open().catch((err) => this.emit('error', err)); }, delay);
    this.emit('reconnecting', { delay, attempt });
  }

  // ---- heartbeat ----

  #armHeartbeat(ws) {
    if (this.#heartbeatInterval === 0) return;
    clearTimeout(this.#heartbeatTimer);
    const wait = Math.max(0, this.#lastReceived + this.#heartbeatInterval - now());
    this.#heartbeatTimer = setTimeout(() => this.#heartbeatTick(ws), wait);
  }

  #heartbeatTick(ws) {
    if (ws !== this.#ws) return;
    if (now() - this.#lastReceived < this.#heartbeatInterval) { this.#armHeartbeat(ws); return; }
    this.#request('ping', {}, this.#heartbeatTimeout).catch(() => { /* the dead timer decides */ });
    this.#deadTimer = setTimeout(() => this.#drop(ws, 'heartbeat timeout'), this.#heartbeatTimeout);
  }

  // ---- frames ----

  #send(obj) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  // `onOk`, when given, runs as soon as the ok reply is read, before any later frame is handled
  // (a promise's then() may run only after several frames that came in one read).
  #request(op, fields, timeout = this.#requestTimeout, onOk = null) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      let sent;
      try {
        sent = this.#send({ op, id, ...fields });
      } catch (err) {
        reject(err instanceof SwitchboardError ? err : new SwitchboardError('bad_request', `cannot send ${op}: ${err?.message ?? err}`, { room: fields.room, op, cause: err }));
        return;
      }
      if (!sent) {
        reject(new SwitchboardError('disconnected', 'not connected', { room: fields.room, op }));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SwitchboardError('timeout', `no reply to ${op} within ${timeout} ms`, { room: fields.room, op }));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer, op, room: fields.room, onOk });
    });
  }

  #onMessage(ws, raw) {
    if (ws !== this.#ws) return;
    this.#lastReceived = now();
    if (this.#deadTimer !== null) { // the ping is answered, or something else arrived
      clearTimeout(this.#deadTimer);
      this.#deadTimer = null;
      this.#armHeartbeat(ws);
    }
    let m;
    try { m = JSON.parse(typeof raw === 'string' ? raw : String(raw)); } catch { return; }
    if (m === null || typeof m !== 'object') return;

    if (m.id !== undefined && m.id !== null && m.type === undefined) {
      const p = this.#pending.get(m.id);
      if (p) {
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error) p.reject(new SwitchboardError(m.error.code ?? 'internal', m.error.message, { room: p.room, op: p.op }));
        else {
          p.onOk?.(m);
          p.resolve(m);
        }
        return;
      }
      if (m.error) this.emit('error', new SwitchboardError(m.error.code ?? 'internal', m.error.message));
      return; // a late ok after a timeout
    }
    if (m.error) { // an error that could not be matched to a request (bad_json, binary frames, …)
      this.emit('error', new SwitchboardError(m.error.code ?? 'internal', m.error.message));
      return;
    }
    switch (m.type) {
      case 'message': {
        const room = this.#rooms.get(m.room);
        if (!room || room.state !== 'subscribed') break; // a resubscribe will replay it
        if (typeof m.offset === 'number' && room.position) {
          if (m.offset <= room.position.offset && m.offset !== 1) break; // already had it
          if (m.offset !== room.position.offset + 1) { // a gap: messages were lost on the way
            this.#recover(room);
            break;
          }
        }
        if (typeof m.offset === 'number') room.position = { offset: m.offset, epoch: room.position?.epoch ?? '' };
        room._emit('message', { room: m.room, data: m.data, from: m.from, offset: m.offset });
        break;
      }
      case 'subscribed': { // the node re-announces a subscription: the room's epoch changed (its
        // history was lost, numbering starts again) or messages were lost on the way. The
        // messages from the new position on follow; the application reloads what it shows.
        const room = this.#rooms.get(m.room);
        if (!room || room.state !== 'subscribed') break; // a resubscribe will say where it stands
        if (typeof m.offset !== 'number' || typeof m.epoch !== 'string') break;
        room.position = { offset: m.offset, epoch: m.epoch };
        room._emit('subscribed', { room: room.name, resubscribed: true, recovered: m.recovered === true, position: room.position });
        break;
      }
      case 'join':
      case 'leave': {
        const room = this.#rooms.get(m.room);
        room?._emit(m.type, { room: m.room, user: m.user, info: m.info ?? {} });
        break;
      }
      case 'unsubscribed': { // the node ended a subscription (e.g. a refreshed token no longer allows it)
        const room = this.#rooms.get(m.room);
        if (room) this.#endRoom(room, { room: m.room, code: m.code, message: m.message });
        break;
      }
      case 'refresh':
        this.#refresh(ws);
        break;
      default:
        break; // a push this client does not know yet
    }
  }

  async #refresh(ws) {
    if (!this.#getToken) return; // a static token: the node closes with 4001 at expiry
    let token;
    try {
      token = await withTimeout(Promise.resolve().then(() => this.#getToken()), this.#requestTimeout,
        () => new SwitchboardError('timeout', 'getToken() did not answer in time'));
    } catch (err) {
      if (ws === this.#ws) this.emit('error', new SwitchboardError('token_error', `getToken() failed for a refresh: ${err?.message ?? err}`, { cause: err, op: 'refresh' }));
      return;
    }
    if (ws !== this.#ws || !this.#isOpen()) return;
    if (token == null || token === '') {
      this.emit('error', new SwitchboardError('token_error', 'getToken() gave no token for a refresh', { op: 'refresh' }));
      return;
    }
    try {
      await this.#request('refresh', { token: String(token) });
    } catch (err) {
      if (err.code !== 'disconnected') this.emit('error', err);
    }
  }

  // ---- rooms ----

  #sendSubscribe(room) {
    const seq = (this.#subscribeSeq.get(room) ?? 0) + 1;
    this.#subscribeSeq.set(room, seq);
    const current = () => this.#rooms.get(room.name) === room && this.#subscribeSeq.get(room) === seq;
    const ws = this.#ws;
    const fields = { room: room.name, presence: room.presenceEvents };
    if (room.position && room.position.epoch) fields.since = { offset: room.position.offset, epoch: room.position.epoch };
    // Handled as soon as the reply is read: the recovered messages come right behind it.
    const onOk = (reply) => {
      if (!current()) return;
      const resubscribed = this.#everSubscribed.has(room);
      this.#everSubscribed.add(room);
      const recovered = fields.since ? reply.recovered === true : undefined;
      // Recovered: the missed messages follow and move the position on. Otherwise carry on
      // from the room's position now.
      if (!recovered && typeof reply.offset === 'number' && typeof reply.epoch === 'string') {
        room.position = { offset: reply.offset, epoch: reply.epoch };
      }
      room.state = 'subscribed';
      room._emit('subscribed', { room: room.name, resubscribed, recovered, position: room.position });
    };
    return this.#request('subscribe', fields, this.#requestTimeout, onOk).then(
      () => {},
      (err) => {
        if (!current() || err.code === 'disconnected') return; // resubscribed after the reconnect
        if (RETRYABLE.has(err.code)) {
          room._emit('error', err);
          const delay = backoffDelay(0, this.#minDelay, this.#maxDelay);
          setTimeout(() => { if (current() && this.#ws === ws && this.#isOpen()) this.#sendSubscribe(room); }, delay);
          return;
        }
        room._emit('error', err);
        this.#endRoom(room, { room: room.name, code: err.code, message: err.message });
      },
    );
  }

  // Offsets jumped: subscribe again from the last position received, which replays the gap (or
  // says it cannot). Until the reply, the room's messages are ignored: the replay brings them.
  async #recover(room) {
    if (room.state !== 'subscribed' || !this.#isOpen()) return;
    room.state = 'subscribing';
    const ws = this.#ws;
    try {
      await this.#request('unsubscribe', { room: room.name });
    } catch (err) {
      if (err.code === 'disconnected') return; // the reconnect resubscribes
    }
    if (this.#rooms.get(room.name) === room && this.#ws === ws && this.#isOpen()) this.#sendSubscribe(room);
  }

  #endRoom(room, info) {
    if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
    this.#subscribeSeq.delete(room);
    room.state = 'unsubscribed';
    room._emit('unsubscribed', info);
  }

  async #unsubscribe(room) {
    if (this.#rooms.get(room.name) !== room) return;
    const wasOpen = this.#isOpen();
    this.#endRoom(room, { room: room.name });
    if (!wasOpen) return;
    try {
      await this.#request('unsubscribe', { room: room.name });
    } catch (err) {
      if (err.code === 'not_subscribed' || err.code === 'disconnected') return;
      throw err;
    }
  }

  // ---- offline queue ----

  #flushQueue() {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) {
      this.#request('publish', { room: item.room, data: item.data }).then((reply) => item.resolve(ack(reply)), item.reject);
    }
  }

  #rejectQueue(code, message) {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.reject(new SwitchboardError(code, message, { room: item.room, op: 'publish' }));
  }
}

export default Switchboard;
