// What the client asks of a connection, whatever carries it (websocket-transport.js,
// sse-transport.js: a stream or long-polling), and the table of requests waiting for their replies that both keep.

import { SwitchboardError, nodeError } from './errors.js';

/** @typedef {{offset: number, epoch: string}} Position */

/**
 * The node's answer to a subscribe: the room's position, and with a `since`, whether every
 * message after it follows.
 * @typedef {{offset?: number, epoch?: string, recovered?: boolean}} SubscribeReply
 */

/** @typedef {{room: string, data: unknown, from: string, offset: number}} HistoryMessage */

/**
 * A push of the node (PROTOCOL.md, "Server → client"): `message`, `join`, `leave`, `subscribed`
 * (an announcement while subscribed), `unsubscribed`, `refresh`, or one this client does not know.
 * @typedef {{type: string, [field: string]: any}} Push
 */

/**
 * What a transport reports to the client. After `close`, it reports nothing more, and its
 * requests have been rejected with `disconnected`.
 * @typedef {object} TransportEvents
 * @property {() => void} open the connection is open
 * @property {() => void} traffic something arrived (evidence of life for the heartbeat)
 * @property {(push: Push) => void} push a push of the node
 * @property {(error: SwitchboardError) => void} error an error of the node that answers no waiting request
 * @property {(code: number, reason: string) => void} close the connection ended
 */

/**
 * A connection to a node, as the client uses it. Every request returns a promise of its result,
 * rejected with a SwitchboardError: the node's error code, `timeout`, `disconnected` (not open, or
 * closed before the reply) or `bad_request` (data that cannot be sent). `close()` and
 * `terminate()` end it without a `close` event.
 * @typedef {object} Transport
 * @property {'websocket' | 'sse' | 'poll'} kind
 * @property {boolean} open whether requests can be sent
 * @property {(room: string, options: {presence: boolean, since?: Position}, onOk: (reply: SubscribeReply) => void) => Promise<SubscribeReply>} subscribe
 *   `onOk` runs as soon as the ok is read, before anything received after it is handled
 * @property {(room: string) => Promise<void>} unsubscribe
 * @property {(room: string, data: unknown, idem?: string) => Promise<{offset: number}>} publish
 * @property {(room: string) => Promise<{users?: unknown}>} presence
 * @property {(room: string, limit: number | undefined) => Promise<{messages?: unknown, offset?: number, epoch?: string}>} history
 * @property {(timeout: number) => Promise<void>} ping
 * @property {(token: string) => Promise<void>} refresh
 * @property {(code: number, reason: string) => void} close
 * @property {(reason: string) => void} terminate gives up at once, without a close handshake
 */

/**
 * @typedef {object} Waiting
 * @property {string} op
 * @property {string | undefined} room
 * @property {(reply: any) => void} resolve
 * @property {(error: SwitchboardError) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 * @property {((reply: any) => void) | undefined} onOk
 */

/**
 * Requests waiting for their replies, by id: each rejects with `timeout` when its reply does not
 * come in time, and all of them with `disconnected` when the connection ends.
 */
export class PendingRequests {
  #nextId = 1;
  /** @type {Map<number, Waiting>} */
  #waiting = new Map();
  #timeout;
  #onLateError;
  #closed = false;

  /**
   * @param {number} timeout ms a request waits for its reply, unless it says otherwise
   * @param {(error: SwitchboardError) => void} onLateError an error reply that no request waits for
   */
  constructor(timeout, onLateError) {
    this.#timeout = timeout;
    this.#onLateError = onLateError;
  }

  /**
   * Starts a request: `send(id)` sends it (an exception rejects it with `bad_request`), and the
   * promise settles with `resolve(id, …)` or `reject(id, …)`.
   * @param {string} op
   * @param {string | undefined} room
   * @param {(id: number) => void} send
   * @param {{timeout?: number, onOk?: (reply: any) => void}} [options] onOk: runs when the reply is settled, before the promise resolves
   * @returns {Promise<any>}
   */
  request(op, room, send, options = {}) {
    if (this.#closed) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room, op }));
    const id = this.#nextId++;
    const timeout = options.timeout ?? this.#timeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new SwitchboardError('timeout', `no reply to ${op} within ${timeout} ms`, { room, op }));
      }, timeout);
      this.#waiting.set(id, { op, room, resolve, reject, timer, onOk: options.onOk });
      try {
        send(id);
      } catch (err) {
        clearTimeout(timer);
        this.#waiting.delete(id);
        reject(err instanceof SwitchboardError ? err
          : new SwitchboardError('bad_request', `cannot send ${op}: ${/** @type {any} */ (err)?.message ?? err}`, { room, op, cause: err }));
      }
    });
  }

  /**
   * The ok reply of request `id`; false when no request waits for it (a late reply).
   * @param {unknown} id
   * @param {object} reply
   * @returns {boolean}
   */
  resolve(id, reply) {
    const w = this.#take(id);
    if (!w) return false;
    w.onOk?.(reply);
    w.resolve(reply);
    return true;
  }

  /**
   * The error reply of request `id` (`{code, message}` as the node sends it); reported as a late
   * error when no request waits for it.
   * @param {unknown} id
   * @param {{code?: string, message?: string}} error
   */
  reject(id, error) {
    if (this.#closed) return;
    const w = this.#take(id);
    if (w) w.reject(nodeError(error, { room: w.room, op: w.op }));
    else this.#onLateError(nodeError(error));
  }

  /** Rejects every waiting request with `disconnected`, and every later one at once. */
  close() {
    this.#closed = true;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.reject(new SwitchboardError('disconnected', 'the connection was lost before the reply', { room: w.room, op: w.op }));
    }
  }

  /**
   * @param {unknown} id
   * @returns {Waiting | undefined}
   */
  #take(id) {
    if (this.#closed || typeof id !== 'number') return undefined;
    const w = this.#waiting.get(id);
    if (!w) return undefined;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    return w;
  }
}
