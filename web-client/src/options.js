// The client's options: checked once, with their defaults.

/** @typedef {import('./websocket-transport.js').WebSocketConstructor} WebSocketConstructor */
/** @typedef {() => (string | null | undefined | Promise<string | null | undefined>)} TokenSource */

/**
 * @typedef {object} SwitchboardOptions
 * @property {string} [token] a JWT sent with every connection
 * @property {TokenSource} [getToken]
 *   called for a fresh JWT before every (re)connect and when the node asks for a refresh; null: no token
 * @property {WebSocketConstructor} [WebSocket] the WebSocket constructor (default: globalThis.WebSocket)
 * @property {number} [minReconnectDelay] ms, default 500
 * @property {number} [maxReconnectDelay] ms, default 30000
 * @property {number} [heartbeatInterval] ms of silence before a ping, default 20000; 0 turns heartbeats off
 * @property {number} [heartbeatTimeout] ms to wait for any traffic after a ping, default 10000
 * @property {number} [requestTimeout] ms for a reply, for getToken and for the handshake, default 10000
 * @property {{max: number, resendWithin?: number}} [offlineQueue] keep up to `max` publishes made while disconnected;
 *   a publish whose connection is lost before its answer is sent again (with its key) within
 *   `resendWithin` ms of its first send, default 240000
 * @property {Array<'websocket' | 'sse' | 'poll'>} [transports] what to connect with, in order of preference:
 *   default `['websocket', 'sse', 'poll']` (Server-Sent Events plus the HTTP API when WebSockets keep
 *   failing, long-polling when a stream brings nothing either)
 * @property {number} [fallbackAfter] WebSocket attempts in a row that never open before the
 *   next attempt falls back, default 2
 * @property {typeof fetch} [fetch] the fetch function for Server-Sent Events and long-polling (default: globalThis.fetch)
 */

/**
 * The options as the client uses them: defaults filled in, and only the transports this
 * environment has (a WebSocket constructor, a fetch function).
 * @typedef {object} Settings
 * @property {string | null} token
 * @property {TokenSource | null} getToken
 * @property {WebSocketConstructor | undefined} WebSocket
 * @property {typeof fetch | undefined} fetch
 * @property {Array<'websocket' | 'sse' | 'poll'>} transports never empty
 * @property {number} fallbackAfter
 * @property {number} minDelay
 * @property {number} maxDelay
 * @property {number} heartbeatInterval
 * @property {number} heartbeatTimeout
 * @property {number} requestTimeout
 * @property {number} queueMax
 * @property {number} resendWithin
 */

const DEFAULTS = Object.freeze({
  minReconnectDelay: 500,
  maxReconnectDelay: 30000,
  heartbeatInterval: 20000,
  heartbeatTimeout: 10000,
  requestTimeout: 10000,
});

/**
 * An option in milliseconds, checked.
 * @param {string} name
 * @param {unknown} value
 * @param {number} fallback
 * @param {boolean} [allowZero]
 * @returns {number}
 */
function positive(name, value, fallback, allowZero = false) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`Switchboard: option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`);
  }
  return value;
}

/**
 * Checks the options given to `new Switchboard()`; throws a TypeError for a wrong one.
 * @param {SwitchboardOptions | null | undefined} options
 * @returns {Readonly<Settings>}
 */
export function readOptions(options) {
  const o = options ?? {};
  if (o.token != null && typeof o.token !== 'string') throw new TypeError('Switchboard: token must be a string');
  if (o.getToken != null && typeof o.getToken !== 'function') throw new TypeError('Switchboard: getToken must be a function');
  /** @type {WebSocketConstructor | undefined} */
  const WebSocketImpl = o.WebSocket ?? globalThis.WebSocket;
  /** @type {typeof fetch | undefined} */
  const fetchImpl = o.fetch ?? globalThis.fetch?.bind(globalThis);
  const wanted = o.transports ?? ['websocket', 'sse', 'poll'];
  if (!Array.isArray(wanted) || wanted.length === 0 || wanted.some((t) => t !== 'websocket' && t !== 'sse' && t !== 'poll')) {
    throw new TypeError("Switchboard: transports is a non-empty array of 'websocket', 'sse' and 'poll'");
  }
  const transports = wanted.filter((t) => (t === 'websocket' ? typeof WebSocketImpl === 'function' : typeof fetchImpl === 'function'));
  if (transports.length === 0) {
    throw new TypeError(wanted.includes('websocket')
      ? 'Switchboard: no WebSocket implementation; pass one as the WebSocket option (in Node: the ws package)'
      : 'Switchboard: no fetch implementation for Server-Sent Events and long-polling; pass one as the fetch option');
  }
  const fallbackAfter = o.fallbackAfter ?? 2;
  if (!Number.isInteger(fallbackAfter) || fallbackAfter < 1) {
    throw new TypeError('Switchboard: fallbackAfter must be a positive integer');
  }
  const minDelay = positive('minReconnectDelay', o.minReconnectDelay, DEFAULTS.minReconnectDelay);
  const maxDelay = Math.max(minDelay, positive('maxReconnectDelay', o.maxReconnectDelay, DEFAULTS.maxReconnectDelay));
  const heartbeatInterval = positive('heartbeatInterval', o.heartbeatInterval, DEFAULTS.heartbeatInterval, true);
  const heartbeatTimeout = positive('heartbeatTimeout', o.heartbeatTimeout, DEFAULTS.heartbeatTimeout);
  const requestTimeout = positive('requestTimeout', o.requestTimeout, DEFAULTS.requestTimeout);
  const queueMax = o.offlineQueue?.max ?? 0;
  if (!Number.isInteger(queueMax) || queueMax < 0) throw new TypeError('Switchboard: offlineQueue.max must be a non-negative integer');
  // Below the node's --idempotency-window (300 s by default), so that a publish sent again is
  // recognised by its key.
  const resendWithin = o.offlineQueue?.resendWithin ?? 240000;
  if (typeof resendWithin !== 'number' || !(resendWithin >= 0)) throw new TypeError('Switchboard: offlineQueue.resendWithin must be a non-negative number of ms');
  return Object.freeze({
    token: o.token ?? null,
    getToken: o.getToken ?? null,
    WebSocket: WebSocketImpl,
    fetch: fetchImpl,
    transports,
    fallbackAfter,
    minDelay,
    maxDelay,
    heartbeatInterval,
    heartbeatTimeout,
    requestTimeout,
    queueMax,
    resendWithin,
  });
}
