// The client: a connection to a Switchboard node that reconnects by itself, keeps its rooms
// subscribed, and carries requests over a WebSocket or, as fallbacks, Server-Sent Events or
// long-polling.

import { copyBytes, fromJsonData, isBytes } from './binary.js';
import { Emitter } from './emitter.js';
import {
  CLOSE_ABNORMAL, CLOSE_NORMAL, CLOSE_TOKEN_EXPIRED, REVOKED, RETRYABLE, SwitchboardError, TOKEN_REFUSALS,
} from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { OfflineQueue, MAX_RESENDS } from './offline-queue.js';
/** @typedef {import('./offline-queue.js').Queued} Queued */
import { readOptions } from './options.js';
import { Room } from './room.js';
import { SseTransport } from './sse-transport.js';
import { backoffDelay, now, withTimeout } from './timing.js';
import { admissionUrl, connectionUrl } from './urls.js';
import { WebSocketTransport } from './websocket-transport.js';

/** @typedef {import('./transport.js').Transport} Transport */
/** @typedef {import('./transport.js').TransportEvents} TransportEvents */
/** @typedef {import('./transport.js').Push} Push */
/** @typedef {import('./transport.js').Position} Position */
/** @typedef {import('./websocket-transport.js').WebSocketConstructor} WebSocketConstructor */
/** @typedef {import('./options.js').SwitchboardOptions} SwitchboardOptions */

// A connection that stayed open this long resets the backoff: the next retry is a quick one.
const STABLE_AFTER_MS = 5000;

/**
 * What a publish resolves to: the node's ack alone.
 * @param {{offset: number}} reply
 * @returns {{offset: number}}
 */
const ack = (reply) => ({ offset: reply.offset });

/**
 * @param {unknown} err
 * @returns {string}
 */
const messageOf = (err) => String(/** @type {any} */ (err)?.message ?? err);

/**
 * A connection to a Switchboard node that reconnects by itself and keeps its rooms subscribed.
 * Events: `connecting` ({attempt}), `connected` ({reconnected, transport}), `disconnected`
 * ({code, reason, willReconnect, refused?}), `reconnecting` ({delay, attempt}), `error`
 * (SwitchboardError).
 */
export class Switchboard extends Emitter {
  #url;
  #options; // checked, with their defaults
  /** @type {'websocket' | 'sse' | 'poll'} */
  #transport;
  #wsFailures = 0;      // WebSocket attempts in a row that never opened
  #delivered = false;   // the current connection brought something (traffic) since it was made
  #streamSilent = false; // a Server-Sent Events stream was given up for bringing nothing: poll instead

  /** @type {'disconnected' | 'connecting' | 'connected' | 'reconnecting'} */
  #state = 'disconnected';
  #wanted = false;      // connect() was called and disconnect() was not
  #generation = 0;      // bumps on every attempt and on disconnect(): stale async work checks it
  /** @type {string | null | undefined} the token of the current attempt, to ask why it was refused */
  #attemptToken = null;
  #attempt = 0;         // reconnect attempts since the last stable connection
  #everConnected = false;
  /** @type {Transport | null} */
  #conn = null;
  #openedAt = 0;
  #ready = false;       // open, rooms resubscribed and the offline queue flushed
  /** @type {Heartbeat | null} the open connection's */
  #heartbeat = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #connectTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** @type {Map<string, Room>} */
  #rooms = new Map();
  #queue;
  #onOnline = () => { if (this.#state === 'reconnecting') this.#openNow(); };

  /**
   * @param {string | URL} url the node's WebSocket endpoint, e.g. `wss://host/ws` (in a browser `/ws` works too)
   * @param {SwitchboardOptions} [options]
   */
  constructor(url, options = {}) {
    super();
    if (url == null || url === '') throw new TypeError('Switchboard: url is required');
    connectionUrl(url, null); // throws on a malformed URL now rather than at connect time
    this.#url = url;
    this.#options = readOptions(options);
    this.#transport = this.#options.transports[0];
    this.#queue = new OfflineQueue(this.#options.queueMax);
  }

  /** `disconnected`, `connecting`, `connected` or `reconnecting` (waiting to retry). */
  get state() { return this.#state; }

  /**
   * What the current (or next) connection uses: `websocket`, `sse` (Server-Sent Events and the
   * HTTP API) or `poll` (long-polling and the HTTP API).
   */
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
    this.#retryTimer = undefined;
    const conn = this.#conn;
    if (conn) {
      this.#teardown(conn);
      conn.close(CLOSE_NORMAL, 'client disconnect');
    }
    this.#queue.rejectAll('disconnected', 'disconnect() was called');
    this.#state = 'disconnected';
    if (was !== 'disconnected') {
      this.emit('disconnected', { code: CLOSE_NORMAL, reason: 'client disconnect', willReconnect: false });
    }
  }

  /**
   * Subscribes to a room (now, or as soon as connected) and keeps it subscribed across
   * reconnects. Subscribing again to the same name returns the same Room and updates its
   * presence flag.
   * @param {string} name
   * @param {{presence?: boolean, since?: Position}} [options] presence: receive
   *   join/leave events; since: a position saved earlier (e.g. `room.position` kept across page
   *   loads), to receive the messages published after it first
   * @returns {Room}
   */
  subscribe(name, options = {}) {
    if (typeof name !== 'string') throw new TypeError('Switchboard: room name must be a string');
    const presence = Boolean(options?.presence);
    let room = this.#rooms.get(name);
    if (room) {
      if (!room._setPresenceEvents(presence)) return room;
    } else {
      room = new Room(this, name, presence, {
        unsubscribe: (r) => this.#unsubscribe(r),
        unhandledError: (err) => this.emit('error', err),
      }, options?.since);
      this.#rooms.set(name, room);
    }
    if (this.#isOpen()) this.#sendSubscribe(room);
    return room;
  }

  /**
   * Publishes `data` (any JSON value) to a room, subscribed or not. Resolves on the node's ok
   * with the ack, `{offset}`: the message's number in the room (what subscribers receive as its
   * `offset`, so it can be logged or used to recognise one's own message); rejects with a
   * SwitchboardError: a protocol code (`bad_room`, `forbidden`, `rate_limited`, …), `timeout`,
   * `disconnected` (not connected and no offline queue, or the connection was lost before the
   * reply without an offline queue: the message may or may not have been delivered), or
   * `queue_full`.
   * `options.idem`: an idempotency key (1-64 letters, digits and `_ - . :`): a publish with the key
   * of one the node accepted within its window gets that one's ack and is not delivered again,
   * so that the application can retry safely. With the offline queue on, every publish gets a key
   * (this one, or a random one), and one whose connection is lost before the node answered is
   * sent again with it after the reconnect: delivered once either way.
   * @param {string} room
   * @param {unknown} data
   * @param {{idem?: string}} [options]
   * @returns {Promise<{offset: number}>}
   */
  publish(room, data, options = {}) {
    if (isBytes(data)) data = copyBytes(data); // taken now: the caller may reuse its buffer
    if (!this.#queue.enabled) {
      const idem = options.idem;
      if (this.#isOpen()) return this.#call('publish', room, (conn) => conn.publish(room, data, idem)).then(ack);
      return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'publish' }));
    }
    if (!this.#ready && !this.#wanted && !this.#isOpen()) {
      return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'publish' }));
    }
    const item = this.#queue.entry(room, data, options.idem);
    return new Promise((resolve, reject) => {
      item.resolve = resolve;
      item.reject = reject;
      if (this.#ready || (!this.#wanted && this.#isOpen())) this.#send(item);
      else this.#queue.add(item);
    });
  }

  /**
   * Sends a publish of the offline queue's; when its connection is lost before the node answers
   * and the client reconnects, it goes back into the queue, to be sent again with its key — at
   * most MAX_RESENDS times, and only within `offlineQueue.resendWithin` of its first send (the
   * node remembers keys for its --idempotency-window, 5 minutes by default).
   * @param {Queued} item
   */
  #send(item) {
    item.sends++;
    if (!item.firstSent) item.firstSent = Date.now();
    this.#call('publish', item.room, (conn) => conn.publish(item.room, item.data, item.idem)).then(
      (reply) => item.resolve(ack(reply)),
      (/** @type {SwitchboardError} */ err) => {
        const again = err?.code === 'disconnected' && this.#wanted && item.sends <= MAX_RESENDS &&
          Date.now() - item.firstSent < this.#options.resendWithin;
        if (again) this.#queue.putBack(item);
        else item.reject(err);
      });
  }

  /**
   * The users present in a room (subscribed or not), sorted by user id.
   * @param {string} room
   * @returns {Promise<Array<{user: string, info: {[key: string]: any}, conns: number}>>}
   */
  presence(room) {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'presence' }));
    return this.#call('presence', room, (conn) => conn.presence(room))
      .then((reply) => (Array.isArray(reply.users) ? reply.users : []));
  }

  /**
   * The latest messages of a room (subscribed or not) kept by the node, oldest first.
   * @param {string} room
   * @param {{limit?: number}} [options] limit: 1-1000, default 100
   * @returns {Promise<{messages: Array<{room: string, data: any, from: string, offset: number}>, position: Position}>}
   */
  history(room, options = {}) {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op: 'history' }));
    return this.#call('history', room, (conn) => conn.history(room, options?.limit)).then((reply) => ({
      messages: (Array.isArray(reply.messages) ? reply.messages : [])
        .map((m) => ({ room: m.room, data: fromJsonData(m.data), from: m.from, offset: m.offset })),
      position: { offset: /** @type {number} */ (reply.offset), epoch: /** @type {string} */ (reply.epoch) },
    }));
  }

  /**
   * An application-level round trip; resolves with the time it took in milliseconds.
   * @returns {Promise<number>}
   */
  ping() {
    if (!this.#isOpen()) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { op: 'ping' }));
    const start = now();
    return this.#call('ping', undefined, (conn) => conn.ping(this.#options.requestTimeout)).then(() => now() - start);
  }

  // ---- connection ----

  #isOpen() {
    return this.#conn !== null && this.#state === 'connected' && this.#conn.open;
  }

  /**
   * A request on the current connection.
   * @template T
   * @param {string} op
   * @param {string | undefined} room
   * @param {(conn: Transport) => Promise<T>} request
   * @returns {Promise<T>}
   */
  #call(op, room, request) {
    const conn = this.#conn;
    if (!conn) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op }));
    return request(conn);
  }

  #openNow() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#open().catch((err) => this.emit('error', err));
  }

  async #open() {
    const generation = ++this.#generation;
    this.#state = 'connecting';
    this.emit('connecting', { attempt: this.#attempt });
    if (generation !== this.#generation) return; // a listener called disconnect()
    /** @type {string | null | undefined} */
    let token = this.#options.token;
    if (this.#options.getToken) {
      const getToken = this.#options.getToken;
      try {
        token = await withTimeout(Promise.resolve().then(() => getToken()), this.#options.requestTimeout,
          () => new SwitchboardError('timeout', 'getToken() did not answer in time'));
      } catch (err) {
        if (generation !== this.#generation) return;
        this.emit('error', err instanceof SwitchboardError && err.code === 'timeout'
          ? new SwitchboardError('token_error', err.message)
          : new SwitchboardError('token_error', `getToken() failed: ${messageOf(err)}`, { cause: err }));
        this.#scheduleReconnect();
        return;
      }
      if (generation !== this.#generation) return; // disconnect() or another attempt meanwhile
    }
    this.#attemptToken = token;
    /** @type {Transport} */
    let conn;
    /** @type {TransportEvents} */
    const events = {
      open: () => this.#onOpen(conn),
      traffic: () => this.#onTraffic(conn),
      push: (m) => this.#onPush(conn, m),
      error: (err) => { if (conn === this.#conn) this.emit('error', err); },
      close: (code, reason) => this.#onClose(conn, code, reason),
    };
    try {
      this.#delivered = false;
      conn = this.#transport !== 'websocket'
        ? new SseTransport(this.#url, token ?? null, /** @type {typeof fetch} */ (this.#options.fetch), events, this.#options.requestTimeout, this.#transport)
        : new WebSocketTransport(connectionUrl(this.#url, token), /** @type {WebSocketConstructor} */ (this.#options.WebSocket), events, this.#options.requestTimeout);
    } catch (err) {
      const what = { websocket: 'WebSocket', sse: 'stream', poll: 'poll' }[this.#transport];
      this.emit('error', new SwitchboardError('connect_error', `cannot open the ${what}: ${messageOf(err)}`, { cause: err }));
      this.#scheduleReconnect();
      return;
    }
    this.#conn = conn;
    this.#connectTimer = setTimeout(() => this.#drop(conn, 'handshake timeout'), this.#options.requestTimeout);
  }

  /** @param {Transport} conn */
  #onOpen(conn) {
    if (conn !== this.#conn) return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#openedAt = now();
    const reconnected = this.#everConnected;
    this.#everConnected = true;
    if (this.#transport === 'websocket') this.#wsFailures = 0;
    this.#state = 'connected';
    this.#heartbeat = new Heartbeat(this.#options.heartbeatInterval, this.#options.heartbeatTimeout, {
      ping: () => { conn.ping(this.#options.heartbeatTimeout).catch(() => { /* the dead timer decides */ }); },
      dead: () => this.#drop(conn, 'heartbeat timeout'),
    });
    this.#heartbeat.start(this.#openedAt);
    this.emit('connected', { reconnected, transport: this.#transport });
    if (conn !== this.#conn) return; // a listener called disconnect()
    const subscribes = [...this.#rooms.values()].map((room) => this.#sendSubscribe(room));
    Promise.allSettled(subscribes).then(() => {
      if (conn !== this.#conn || !this.#isOpen()) return;
      this.#flushQueue();
      this.#ready = true;
    });
  }

  /**
   * @param {Transport} conn
   * @param {number} code
   * @param {string} reason
   */
  #onClose(conn, code, reason) {
    if (conn !== this.#conn) return;
    const opened = this.#state === 'connected';
    const openFor = opened ? now() - this.#openedAt : 0;
    this.#chooseTransport();
    this.#teardown(conn);
    if (openFor >= STABLE_AFTER_MS) this.#attempt = 0;
    if (!opened && code === CLOSE_ABNORMAL && this.#options.fetch) {
      this.#askWhyRefused(code, reason);
      return;
    }
    this.#lost(code, reason);
  }

  // A connection that never opened: a browser does not say why (a WebSocket reports 1006, a
  // stream refused by CORS only fails), so ask the node what a handshake would be told, and stop
  // for good when it is a refusal no retry can change (the page's origin is not allowed, a backend
  // revoked the user's access, or the token is refused and there is no getToken() to ask for another).
  /**
   * @param {number} code
   * @param {string} reason
   */
  async #askWhyRefused(code, reason) {
    const generation = this.#generation;
    const fetchImpl = /** @type {typeof fetch} */ (this.#options.fetch);
    /** @type {{code: string, message?: string} | null} */
    let refusal = null;
    try {
      const res = await withTimeout(fetchImpl(admissionUrl(this.#url, this.#attemptToken), { cache: 'no-store' }),
        this.#options.requestTimeout, () => new Error('no answer'));
      const body = await res.json().catch(() => null);
      if (!res.ok && typeof body?.error?.code === 'string' && body.error.code !== 'upgrade_required') refusal = body.error;
    } catch { /* the node is unreachable: nothing more to learn */ }
    if (generation !== this.#generation || !this.#wanted) return; // disconnect() or connect() meanwhile
    if (!refusal || (refusal.code !== 'origin_not_allowed' && refusal.code !== REVOKED && !TOKEN_REFUSALS.has(refusal.code))) {
      this.#lost(code, reason);
      return;
    }
    const final = refusal.code === 'origin_not_allowed' || refusal.code === REVOKED || !this.#options.getToken;
    this.emit('error', new SwitchboardError(refusal.code, refusal.message, { op: 'connect' }));
    if (generation !== this.#generation || !this.#wanted) return; // a listener called disconnect()
    this.#lost(code, refusal.message ?? reason, final ? refusal.code : null);
  }

  /**
   * Gives up on a connection that is not answering, without waiting for a close handshake.
   * @param {Transport} conn
   * @param {string} reason
   */
  #drop(conn, reason) {
    if (conn !== this.#conn) return;
    // A stream that brought nothing in all that time (no head, or no event nor keep-alive after
    // it): a proxy that holds responses until they end. Long-polling gets through those.
    if (this.#transport === 'sse' && !this.#delivered) this.#streamSilent = true;
    this.#chooseTransport();
    this.#teardown(conn);
    conn.terminate(reason);
    this.#lost(CLOSE_ABNORMAL, reason);
  }

  // The transport of the next attempt, as a connection ends: after WebSocket attempts that keep
  // failing to open (a proxy that refuses upgrades), the fallback: Server-Sent Events, or
  // long-polling once a stream was given up for bringing nothing (a proxy that holds responses
  // until they end); after a stream given up so, long-polling at once; after any other fallback
  // connection, one WebSocket attempt again, back to the fallback if it fails.
  #chooseTransport() {
    const has = (/** @type {'websocket' | 'sse' | 'poll'} */ t) => this.#options.transports.includes(t);
    const fallback = has('sse') && (!this.#streamSilent || !has('poll')) ? 'sse' : has('poll') ? 'poll' : 'websocket';
    if (this.#transport === 'websocket') {
      if (this.#state === 'connected') return;
      if (++this.#wsFailures >= this.#options.fallbackAfter) this.#transport = fallback;
    } else if (this.#transport === 'sse' && this.#streamSilent && !this.#delivered && has('poll')) {
      this.#transport = 'poll';
    } else if (has('websocket')) {
      this.#transport = 'websocket';
      this.#wsFailures = this.#options.fallbackAfter - 1;
    } else {
      this.#transport = fallback;
    }
  }

  /**
   * A connection or an attempt ended: reconnect, unless it was final.
   * @param {number} code
   * @param {string} reason
   * @param {string | null} [refused] the code of a refusal that ends the connecting for good (see #askWhyRefused)
   */
  #lost(code, reason, refused = null) {
    // A static token cannot get better; without any token (a session cookie the application's
    // --proxy-connect checks) the next handshake asks the application again.
    const expired = code === CLOSE_TOKEN_EXPIRED && !this.#options.getToken && Boolean(this.#options.token);
    const final = expired || refused !== null;
    const willReconnect = this.#wanted && !final;
    if (!willReconnect) {
      this.#wanted = false;
      globalThis.removeEventListener?.('online', this.#onOnline);
      this.#queue.rejectAll('disconnected', expired ? 'the token expired' : refused ? `refused: ${refused}` : 'disconnected');
      this.#state = 'disconnected';
    }
    const generation = this.#generation;
    this.emit('disconnected', refused ? { code, reason, willReconnect, refused } : { code, reason, willReconnect });
    // Unless a listener called disconnect() or connect() meanwhile.
    if (willReconnect && this.#wanted && generation === this.#generation) this.#scheduleReconnect();
  }

  /**
   * Lets go of a connection: timers stopped, rooms back to `subscribing`. (The transport
   * rejects its pending requests when it closes.)
   * @param {Transport} conn
   */
  #teardown(conn) {
    if (this.#conn === conn) this.#conn = null;
    this.#ready = false;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
    this.#heartbeat = null;
    for (const room of this.#rooms.values()) room._connectionLost();
  }

  #scheduleReconnect() {
    if (!this.#wanted) return;
    const delay = Math.round(backoffDelay(this.#attempt, this.#options.minDelay, this.#options.maxDelay));
    const attempt = this.#attempt++;
    this.#state = 'reconnecting';
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => { this.#retryTimer = undefined; this.#open().catch((err) => this.emit('error', err)); }, delay);
    this.emit('reconnecting', { delay, attempt });
  }

  /** @param {Transport} conn */
  #onTraffic(conn) {
    if (conn !== this.#conn) return;
    this.#delivered = true;
    this.#heartbeat?.received();
  }

  // ---- pushes ----

  /**
   * @param {Transport} conn
   * @param {Push} m
   */
  #onPush(conn, m) {
    if (conn !== this.#conn) return;
    const room = typeof m.room === 'string' ? this.#rooms.get(m.room) : undefined;
    switch (m.type) {
      case 'message':
        if (room && !room._message(m)) this.#recover(room); // a gap: messages were lost on the way
        break;
      case 'subscribed': // the room's epoch changed, or messages were lost: see Room._announced
        room?._announced(m);
        break;
      case 'join':
      case 'leave':
        room?._presence(m);
        break;
      case 'unsubscribed': // the node ended a subscription (e.g. a refreshed token no longer allows it)
        if (room) this.#endRoom(room, { room: m.room, code: m.code, message: m.message });
        break;
      case 'refresh':
        this.#refresh(conn);
        break;
      default:
        break; // a push this client does not know yet
    }
  }

  /** @param {Transport} conn */
  async #refresh(conn) {
    if (!this.#options.getToken) return; // a static token: the node closes with 4001 at expiry
    const getToken = this.#options.getToken;
    let token;
    try {
      token = await withTimeout(Promise.resolve().then(() => getToken()), this.#options.requestTimeout,
        () => new SwitchboardError('timeout', 'getToken() did not answer in time'));
    } catch (err) {
      if (conn === this.#conn) this.emit('error', new SwitchboardError('token_error', `getToken() failed for a refresh: ${messageOf(err)}`, { cause: err, op: 'refresh' }));
      return;
    }
    if (conn !== this.#conn || !this.#isOpen()) return;
    if (token == null || token === '') {
      this.emit('error', new SwitchboardError('token_error', 'getToken() gave no token for a refresh', { op: 'refresh' }));
      return;
    }
    try {
      await conn.refresh(String(token));
    } catch (err) {
      if (/** @type {SwitchboardError} */ (err).code !== 'disconnected') this.emit('error', err);
    }
  }

  // ---- rooms ----

  /**
   * Subscribes the room on the current connection; retries the retryable refusals, ends the
   * room on the others.
   * @param {Room} room
   * @returns {Promise<void>}
   */
  #sendSubscribe(room) {
    const conn = this.#conn;
    if (!conn) return Promise.resolve();
    const { attempt, presence, since } = room._subscribing();
    // Handled as soon as the reply is read: the recovered messages come right behind it.
    /** @param {import('./transport.js').SubscribeReply} reply */
    const onOk = (reply) => { if (room._isCurrent(attempt)) room._subscribed(reply, since !== undefined); };
    return conn.subscribe(room.name, since ? { presence, since } : { presence }, onOk).then(
      () => {},
      (/** @type {SwitchboardError} */ err) => {
        if (!room._isCurrent(attempt) || err.code === 'disconnected') return; // resubscribed after the reconnect
        room._error(err);
        if (RETRYABLE.has(err.code)) {
          const delay = backoffDelay(0, this.#options.minDelay, this.#options.maxDelay);
          setTimeout(() => { if (room._isCurrent(attempt) && this.#conn === conn && this.#isOpen()) this.#sendSubscribe(room); }, delay);
          return;
        }
        this.#endRoom(room, { room: room.name, code: err.code, message: err.message });
      },
    );
  }

  /**
   * Offsets jumped: subscribe again from the last position received, which replays the gap (or
   * says it cannot). Until the reply, the room's messages are ignored: the replay brings them.
   * @param {Room} room
   */
  async #recover(room) {
    const conn = this.#conn;
    if (!conn || !this.#isOpen() || !room._recovering()) return;
    try {
      await conn.unsubscribe(room.name);
    } catch (err) {
      if (/** @type {SwitchboardError} */ (err).code === 'disconnected') return; // the reconnect resubscribes
    }
    if (this.#rooms.get(room.name) === room && this.#conn === conn && this.#isOpen()) this.#sendSubscribe(room);
  }

  /**
   * @param {Room} room
   * @param {{room: string, code?: string, message?: string}} info
   */
  #endRoom(room, info) {
    if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
    room._ended(info);
  }

  /** @param {Room} room */
  async #unsubscribe(room) {
    if (this.#rooms.get(room.name) !== room) return;
    const conn = this.#isOpen() ? this.#conn : null;
    this.#endRoom(room, { room: room.name });
    if (!conn) return;
    try {
      await conn.unsubscribe(room.name);
    } catch (err) {
      const code = /** @type {SwitchboardError} */ (err).code;
      if (code === 'not_subscribed' || code === 'disconnected') return;
      throw err;
    }
  }

  // ---- offline queue ----

  #flushQueue() {
    for (const item of this.#queue.take()) this.#send(item);
  }

}
