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

function positive(name, value, fallback, allowZero = false) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`Switchboard: option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
  return value;
}

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

  /** @type {'disconnected' | 'connecting' | 'connected' | 'reconnecting'} */
  #state = 'disconnected';
  #wanted = false;      // connect() was called and disconnect() was not
  #generation = 0;      // bumps on every attempt and on disconnect(): stale async work checks it
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
    if (typeof this.#WebSocket !== 'function') {
      throw new TypeError('Switchboard: no WebSocket implementation; pass one as the WebSocket option (in Node: the ws package)');
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
   * Publishes `data` (any JSON value) to a room, subscribed or not. Resolves on the node's ok;
   * rejects with a SwitchboardError: a protocol code (`bad_room`, `forbidden`, `rate_limited`,
   * …), `timeout`, `disconnected` (not connected and no offline queue, or the connection was
   * lost before the reply: the message may or may not have been delivered), or `queue_full`.
   * @param {string} room
   * @param {unknown} data
   * @returns {Promise<void>}
   */
  publish(room, data) {
    if (this.#ready || (this.#isOpen() && this.#queue.length === 0 && this.#queueMax === 0)) {
      return this.#request('publish', { room, data }).then(() => undefined);
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
    if (this.#isOpen()) return this.#request('publish', { room, data }).then(() => undefined);
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
    let ws;
    try {
      ws = new this.#WebSocket(connectionUrl(this.#url, token));
    } catch (err) {
      this.emit('error', new SwitchboardError('connect_error', `cannot open the WebSocket: ${err?.message ?? err}`, { cause: err }));
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
    this.#setState('connected');
    this.#armHeartbeat(ws);
    this.emit('connected', { reconnected });
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
    const openFor = this.#state === 'connected' ? now() - this.#openedAt : 0;
    this.#teardown(ws);
    if (openFor >= STABLE_AFTER_MS) this.#attempt = 0;
    this.#lost(code, reason);
  }

  // Gives up on a connection that is not answering, without waiting for a close handshake.
  #drop(ws, reason) {
    if (ws !== this.#ws) return;
    this.#teardown(ws);
    try {
      if (typeof ws.terminate === 'function') ws.terminate(); // the ws package: no close handshake on a dead link
      else ws.close(4000, reason);
    } catch { /* already closed */ }
    this.#lost(CLOSE_ABNORMAL, reason);
  }

  #lost(code, reason) {
    const final = code === CLOSE_TOKEN_EXPIRED && !this.#getToken;
    const willReconnect = this.#wanted && !final;
    if (!willReconnect) {
      this.#wanted = false;
      globalThis.removeEventListener?.('online', this.#onOnline);
      this.#rejectQueue('disconnected', final ? 'the token expired' : 'disconnected');
      this.#setState('disconnected');
    }
    const generation = this.#generation;
    this.emit('disconnected', { code, reason, willReconnect });
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
      this.#request('publish', { room: item.room, data: item.data }).then(() => item.resolve(), item.reject);
    }
  }

  #rejectQueue(code, message) {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.reject(new SwitchboardError(code, message, { room: item.room, op: 'publish' }));
  }
}

export default Switchboard;
