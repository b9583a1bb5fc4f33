// The transport over HTTP: a Server-Sent Events stream, for networks whose proxies refuse
// WebSockets, or long-polling, for those whose proxies also hold a response until it ends.

import { toJsonData } from './binary.js';
import { CLOSE_ABNORMAL, SwitchboardError } from './errors.js';
import { EventStreamParser } from './event-stream-parser.js';
import { PendingRequests } from './transport.js';
import { ROOM_NAME, sseUrls } from './urls.js';

/** @typedef {import('./transport.js').Transport} Transport */
/** @typedef {import('./transport.js').TransportEvents} TransportEvents */
/** @typedef {import('./transport.js').SubscribeReply} SubscribeReply */
/** @typedef {import('./transport.js').Position} Position */

/**
 * A room of the stream: its presence flag, the position a new subscribe starts from (until the
 * stream's ids carry it), and the subscribe request waiting for the stream's `subscribed`.
 * @typedef {{presence: boolean, since: Position | null, replyTo: number | undefined}} StreamRoom
 */

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/**
 * A connection over HTTP. Messages come on a Server-Sent Events stream (GET /sse, read with
 * fetch so that the token goes in a header), which is opened again with Last-Event-ID whenever
 * the rooms change, so that nothing is lost between two streams. A subscribe is answered by the
 * new stream's `subscribed` event for the room. Publish, presence and history are requests to
 * the HTTP API; a ping is answered by the next bytes of the stream (the node sends keep-alives).
 *
 * Long-polling (`kind` 'poll') is the same connection, but for how the events come: a session of
 * polls (GET /poll, PROTOCOL.md "Long-polling"), each answered with the events since the last,
 * in place of a stream. A change of rooms starts a new session from the last event id, and the
 * old one is ended (DELETE /poll) once the new one has subscribed every room; a ping is answered by the next poll's
 * answer (a poll with nothing for it is answered at the node's --poll-timeout).
 * @implements {Transport}
 */
export class SseTransport {
  /** @type {'sse' | 'poll'} */
  kind;
  #urls;
  #token;
  #fetch;
  #events;
  #requests;
  #state = CONNECTING;
  /** @type {Map<string, StreamRoom>} */
  #rooms = new Map();
  #lastEventId = '';
  /** @type {AbortController | null} the stream being read */
  #stream = null;
  #reopening = false;
  /** @type {number[]} pings waiting for the next bytes of the stream */
  #pings = [];
  /** @type {{code: number, reason: string} | null} the node's close event, reported when the stream ends */
  #closeEvent = null;
  /** rooms the current stream has said "subscribed" for */
  #announced = new Set();
  /** @type {string | null} the long-polling session of the current polls */
  #session = null;

  /**
   * Opens the stream, without rooms, in a microtask.
   * @param {string | URL} url the node's WebSocket URL: the stream and the HTTP API are beside it
   * @param {string | null} token
   * @param {typeof fetch} fetchImpl
   * @param {TransportEvents} events
   * @param {number} requestTimeout
   * @param {'sse' | 'poll'} [kind] a stream, or polls
   */
  constructor(url, token, fetchImpl, events, requestTimeout, kind = 'sse') {
    this.kind = kind;
    this.#urls = sseUrls(url);
    this.#token = token;
    this.#fetch = fetchImpl;
    this.#events = events;
    this.#requests = new PendingRequests(requestTimeout, (err) => events.error(err));
    queueMicrotask(() => this.#open());
  }

  get open() { return this.#state === OPEN; }

  /**
   * Adds the room to the stream, which is opened again with it.
   * @param {string} room
   * @param {{presence: boolean, since?: Position}} options
   * @param {(reply: SubscribeReply) => void} onOk
   * @returns {Promise<SubscribeReply>}
   */
  subscribe(room, { presence, since }, onOk) {
    const notOpen = this.#notOpen('subscribe', room);
    if (notOpen) return notOpen;
    // The node refuses a whole stream for a bad name: refuse the one subscribe here instead,
    // as over a WebSocket (and a comma would split the name in the stream's room list).
    if (typeof room !== 'string' || !ROOM_NAME.test(room)) {
      return Promise.reject(new SwitchboardError('bad_room', 'room names are 1-200 bytes of letters, digits and : _ - . @ /', { room, op: 'subscribe' }));
    }
    return this.#requests.request('subscribe', room, (id) => {
      this.#rooms.set(room, { presence, since: since ?? null, replyTo: id });
      this.#reopenSoon();
    }, { onOk });
  }

  /**
   * Drops the room from the stream: its events are dropped from now on.
   * @param {string} room
   * @returns {Promise<void>}
   */
  unsubscribe(room) {
    const notOpen = this.#notOpen('unsubscribe', room);
    if (notOpen) return notOpen;
    if (!this.#rooms.delete(room)) {
      return Promise.reject(new SwitchboardError('not_subscribed', `not subscribed to ${room}`, { room, op: 'unsubscribe' }));
    }
    this.#reopenSoon();
    return Promise.resolve();
  }

  /**
   * @param {string} room
   * @param {unknown} data
   * @param {string} [idem]
   * @returns {Promise<{offset: number}>}
   */
  publish(room, data, idem) {
    const json = toJsonData(data); // bytes as {"$binary":"<base64>"}
    const body = idem === undefined ? { room, data: json } : { room, data: json, idem };
    return this.#api('publish', room, () => ['publish', { method: 'POST', body: JSON.stringify(body) }]);
  }

  /** @param {string} room */
  presence(room) {
    return this.#api('presence', room, () => [`presence?room=${encodeURIComponent(room)}`]);
  }

  /**
   * @param {string} room
   * @param {number | undefined} limit
   */
  history(room, limit) {
    return this.#api('history', room,
      () => [`history?room=${encodeURIComponent(room)}${limit !== undefined ? `&limit=${encodeURIComponent(limit)}` : ''}`]);
  }

  /**
   * Resolves with the next bytes of the stream.
   * @param {number} timeout
   * @returns {Promise<void>}
   */
  ping(timeout) {
    return this.#notOpen('ping') ?? this.#requests.request('ping', undefined, (id) => { this.#pings.push(id); }, { timeout });
  }

  /**
   * Opens the stream again with the new token.
   * @param {string} token
   * @returns {Promise<void>}
   */
  refresh(token) {
    const notOpen = this.#notOpen('refresh');
    if (notOpen) return notOpen;
    this.#token = token;
    this.#reopenSoon();
    return Promise.resolve();
  }

  close() { this.#end(null); }

  terminate() { this.#end(null); }

  /**
   * A rejection with `disconnected` when the stream is not open.
   * @param {string} op
   * @param {string} [room]
   * @returns {Promise<never> | null}
   */
  #notOpen(op, room) {
    return this.#state === OPEN ? null : Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op }));
  }

  #headers() {
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    return headers;
  }

  /**
   * A request to the HTTP API: `request()` gives its path under /api/ and its fetch options
   * (an exception, e.g. data that is not JSON, rejects it with `bad_request`).
   * @param {string} op
   * @param {string} room
   * @param {() => [string, RequestInit?]} request
   * @returns {Promise<any>}
   */
  #api(op, room, request) {
    return this.#notOpen(op, room) ?? this.#requests.request(op, room, (id) => {
      const [path, init = {}] = request();
      this.#fetchApi(id, path, init);
    });
  }

  /**
   * @param {number} id
   * @param {string} path
   * @param {RequestInit} init
   */
  async #fetchApi(id, path, init) {
    try {
      const res = await this.#fetch(this.#urls.api + path, {
        ...init,
        headers: { ...this.#headers(), ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
        cache: 'no-store',
      });
      const body = await res.json().catch(() => ({}));
      if (body && body.error) this.#requests.reject(id, body.error);
      else if (res.ok) this.#requests.resolve(id, body ?? {});
      else this.#requests.reject(id, { code: 'internal', message: `HTTP ${res.status}` });
    } catch (err) {
      this.#requests.reject(id, { code: 'unavailable', message: `the HTTP API did not answer: ${/** @type {any} */ (err)?.message ?? err}` });
    }
  }

  #reopenSoon() {
    if (this.#reopening) return;
    this.#reopening = true;
    queueMicrotask(() => {
      this.#reopening = false;
      if (this.#state === OPEN) this.#open();
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
    const presence = rooms.filter((name) => this.#rooms.get(name)?.presence);
    const query = new URLSearchParams();
    if (rooms.length) query.set('rooms', rooms.join(','));
    if (presence.length) query.set('presence', presence.join(','));
    if (this.kind === 'poll') {
      this.#poll(controller, query);
      return;
    }
    /** @type {Record<string, string>} */
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
    if (this.#state === CONNECTING) {
      this.#state = OPEN;
      this.#events.open();
      if (this.#stream !== controller) return; // a listener closed the connection
    }
    this.#closeEvent = null;
    const parser = new EventStreamParser((event) => this.#event(controller, event));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (this.#stream !== controller) return;
        if (done) break;
        // Any bytes are traffic, keep-alive comments included: they answer the pings.
        this.#events.traffic();
        if (this.#stream !== controller) return;
        parser.push(value);
        this.#alive();
      }
    } catch {
      if (this.#stream !== controller) return;
    }
    this.#end(this.#closeEvent ?? { code: CLOSE_ABNORMAL, reason: 'the stream ended' });
  }

  /**
   * Polls until the connection ends or another session takes over: each answer's events are
   * handled as a stream's, and acknowledged by the next poll.
   * @param {AbortController} controller
   * @param {URLSearchParams} query the session's rooms
   */
  async #poll(controller, query) {
    // The session this one replaces: ended once this one has subscribed every room, so that the
    // user's presence does not flicker in between.
    let previous = this.#session;
    /** @type {string | null} */
    let session = null;
    let ack = 0;
    for (;;) {
      const params = new URLSearchParams(query);
      if (session) {
        params.set('session', session);
        params.set('ack', String(ack));
      }
      // Every poll says where to resume, for a node that does not know the session (its grace
      // passed, or another node of the cluster answers): it opens a new one from there.
      /** @type {Record<string, string>} */
      const headers = this.#headers();
      const resume = this.#resumeFrom();
      if (resume) headers['Last-Event-ID'] = resume;
      let answer;
      try {
        const q = params.toString();
        const res = await this.#fetch(`${this.#urls.poll}${q ? `?${q}` : ''}`, { headers, signal: controller.signal, cache: 'no-store' });
        if (this.#stream !== controller) return;
        if (!res.ok) {
          const body = await res.json().catch(() => ({}));
          if (this.#stream === controller) this.#end({ code: CLOSE_ABNORMAL, reason: body?.error?.message ?? `HTTP ${res.status}` });
          return;
        }
        answer = await res.json();
      } catch {
        if (this.#stream === controller) this.#end({ code: CLOSE_ABNORMAL, reason: 'the poll failed' });
        return;
      }
      if (this.#stream !== controller) return;
      if (!answer || typeof answer.session !== 'string' || !Array.isArray(answer.events)) {
        this.#end({ code: CLOSE_ABNORMAL, reason: 'the poll\'s answer is not one of a node' });
        return;
      }
      if (this.#state === CONNECTING) {
        this.#state = OPEN;
        this.#events.open();
        if (this.#stream !== controller) return; // a listener closed the connection
      }
      // Any answer is traffic, an empty one (the node's poll timeout) included.
      this.#events.traffic();
      if (this.#stream !== controller) return;
      if (answer.session !== session) {
        // A new session (the first, or the node did not know ours): its rooms are announced afresh.
        if (session !== null) this.#announced.clear();
        session = answer.session;
        this.#session = session;
      }
      ack = Number(answer.next) || 0;
      this.#closeEvent = null;
      for (const event of answer.events) {
        this.#push(controller, event?.data, typeof event?.id === 'string' ? event.id : undefined);
        if (this.#stream !== controller) return;
      }
      this.#alive();
      if (previous && previous !== session && [...this.#rooms.keys()].every((name) => this.#announced.has(name))) {
        this.#endSession(previous);
        previous = null;
      }
      if (this.#closeEvent) {
        this.#session = null; // the node ended it
        this.#end(this.#closeEvent);
        return;
      }
    }
  }

  /**
   * Ends a long-polling session the client no longer polls, rather than leave it to the node's
   * grace (its user would stay present meanwhile). Nothing waits for the answer.
   * @param {string} session
   */
  #endSession(session) {
    try {
      this.#fetch(`${this.#urls.poll}?session=${encodeURIComponent(session)}`, { method: 'DELETE', cache: 'no-store', keepalive: true })
        .then((res) => res.body?.cancel(), () => {})
        .catch(() => {});
    } catch { /* a fetch that throws at once: the grace ends it */ }
  }

  #alive() {
    const pings = this.#pings;
    this.#pings = [];
    for (const id of pings) this.#requests.resolve(id, {});
  }

  /**
   * @param {AbortController} controller
   * @param {{data: string, id?: string}} event
   */
  #event(controller, { data, id }) {
    let m;
    try { m = JSON.parse(data); } catch { m = undefined; }
    this.#push(controller, m, id);
  }

  /**
   * An event of the stream or of a poll's answer: `m` its push, `id` its event id.
   * @param {AbortController} controller
   * @param {any} m
   * @param {string | undefined} id
   */
  #push(controller, m, id) {
    if (this.#stream !== controller) return;
    if (id !== undefined) this.#lastEventId = id;
    if (m === null || typeof m !== 'object') return;
    const room = typeof m.room === 'string' ? this.#rooms.get(m.room) : undefined;
    switch (m.type) {
      case 'subscribed':
        if (!room) return;
        if (this.#announced.has(m.room)) {
          // Said again on the same stream: the room's epoch changed (or messages were lost on
          // the way) and the room now stands at this position. Handed to the client as pushed.
          this.#events.push(m);
          return;
        }
        this.#announced.add(m.room);
        room.since = null; // the stream's ids carry the room's position from here on
        if (room.replyTo !== undefined) {
          /** @type {SubscribeReply} */
          const reply = { offset: m.offset, epoch: m.epoch };
          if (m.recovered !== undefined) reply.recovered = m.recovered;
          const replyTo = room.replyTo;
          room.replyTo = undefined;
          this.#requests.resolve(replyTo, reply);
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
        if (room.replyTo !== undefined) this.#requests.reject(room.replyTo, { code: m.code, message: m.message });
        else this.#events.push(m);
        return;
      case 'close':
        this.#closeEvent = { code: m.code, reason: m.reason ?? '' };
        return;
      case 'message':
      case 'join':
      case 'leave':
        if (room) this.#events.push(m);
        return;
      default:
        this.#events.push(m); // refresh, and pushes this client does not know yet
    }
  }

  /**
   * Ends the connection; `closeEvent`: what to report (nothing when the client closed it).
   * @param {{code: number, reason: string} | null} closeEvent
   */
  #end(closeEvent) {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    const stream = this.#stream;
    this.#stream = null;
    stream?.abort();
    if (this.#session) this.#endSession(this.#session);
    this.#session = null;
    this.#requests.close();
    if (closeEvent) this.#events.close(closeEvent.code, closeEvent.reason);
  }
}
