// Publishes made while the client is (re)connecting, sent after the reconnect.

import { SwitchboardError } from './errors.js';

/** @typedef {{room: string, data: unknown, idem: string, seq: number, resolve: (ack: {offset: number}) => void, reject: (error: SwitchboardError) => void}} Queued */

/**
 * A new idempotency key (`idem`): 128 random bits in hex. crypto.getRandomValues works in every
 * browser context (randomUUID only in secure ones) and in Node.
 * @returns {string}
 */
export function newIdem() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Up to `max` publishes, in order; past `max`, the oldest is rejected with `queue_full`.
 * `max` 0: no queue. Each publish carries an idempotency key, so that one sent again after a
 * lost connection (`put back`) is delivered once even when the first send reached the node.
 */
export class OfflineQueue {
  #max;
  #seq = 0;
  /** @type {Queued[]} */
  #items = [];

  /** @param {number} max */
  constructor(max) {
    this.#max = max;
  }

  get enabled() { return this.#max > 0; }

  get length() { return this.#items.length; }

  /**
   * Queues a publish; the promise settles when it is sent (see `take()`) or rejected.
   * @param {string} room
   * @param {unknown} data
   * @param {string} [idem] its idempotency key (a new one when none)
   * @returns {Promise<{offset: number}>}
   */
  add(room, data, idem) {
    return new Promise((resolve, reject) => {
      this.#items.push({ room, data, idem: idem ?? newIdem(), seq: ++this.#seq, resolve, reject });
      while (this.#items.length > this.#max) {
        const oldest = /** @type {Queued} */ (this.#items.shift());
        oldest.reject(new SwitchboardError('queue_full', `offline queue is full (max ${this.#max})`, { room: oldest.room, op: 'publish' }));
      }
    });
  }

  /**
   * Puts back a publish taken from the queue whose connection was lost before the node answered:
   * it goes again after the reconnect, with its key, in its place among the others (it was
   * admitted already: the bound does not push it out).
   * @param {Queued} item
   */
  putBack(item) {
    let i = this.#items.length;
    while (i > 0 && this.#items[i - 1].seq > item.seq) i--;
    this.#items.splice(i, 0, item);
  }

  /**
   * Empties the queue: the publishes to send now, oldest first.
   * @returns {Queued[]}
   */
  take() {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  /**
   * Rejects every queued publish.
   * @param {string} code
   * @param {string} message
   */
  rejectAll(code, message) {
    for (const item of this.take()) item.reject(new SwitchboardError(code, message, { room: item.room, op: 'publish' }));
  }
}
