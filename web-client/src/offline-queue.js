// Publishes made while the client is (re)connecting, sent after the reconnect; and publishes
// whose connection was lost before the node answered, sent again after it.

import { SwitchboardError } from './errors.js';

/**
 * A publish of a client whose offline queue is on: its place in the client's order of publishes
 * (`seq`), its idempotency key, how many times it was sent and when first.
 * @typedef {{room: string, data: unknown, idem: string, seq: number, sends: number, firstSent: number,
 *   resolve: (ack: {offset: number}) => void, reject: (error: SwitchboardError) => void}} Queued
 */

/** How many times a publish whose connection was lost before the answer is sent again, at most. */
export const MAX_RESENDS = 2;

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
 * Up to `max` publishes waiting for a connection, in the order they were made; past `max`, the
 * oldest never sent is rejected with `queue_full`. `max` 0: no queue. Each publish carries an
 * idempotency key, so that one sent again after a lost connection (`putBack`) is delivered once
 * even when its first send reached the node; such a publish is never pushed out by newer ones
 * (it may have been delivered: only its answer can say).
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
   * A publish with its place in the order and its key (a new one when none); settled through
   * `resolve` and `reject`, which the caller sets.
   * @param {string} room
   * @param {unknown} data
   * @param {string} [idem]
   * @returns {Queued}
   */
  entry(room, data, idem) {
    const noop = () => {};
    return { room, data, idem: idem ?? newIdem(), seq: ++this.#seq, sends: 0, firstSent: 0, resolve: noop, reject: noop };
  }

  /**
   * Queues a publish (a new one, not sent yet) until `take()`.
   * @param {Queued} item
   */
  add(item) {
    this.#insert(item);
    while (this.#items.length > this.#max) {
      const i = this.#items.findIndex((it) => it.sends === 0);
      if (i < 0) break;
      const [oldest] = this.#items.splice(i, 1);
      oldest.reject(new SwitchboardError('queue_full', `offline queue is full (max ${this.#max})`, { room: oldest.room, op: 'publish' }));
    }
  }

  /**
   * Puts back a publish whose connection was lost before the node answered: it goes again after
   * the reconnect, with its key, in its place among the others (it is not pushed out by newer ones).
   * @param {Queued} item
   */
  putBack(item) { this.#insert(item); }

  /** @param {Queued} item */
  #insert(item) {
    let i = this.#items.length;
    while (i > 0 && this.#items[i - 1].seq > item.seq) i--;
    this.#items.splice(i, 0, item);
  }

  /**
   * Empties the queue: the publishes to send now, in order.
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
