// Publishes made while the client is (re)connecting, sent after the reconnect.

import { SwitchboardError } from './errors.js';

/** @typedef {{room: string, data: unknown, resolve: (ack: {offset: number}) => void, reject: (error: SwitchboardError) => void}} Queued */

/**
 * Up to `max` publishes, in order; past `max`, the oldest is rejected with `queue_full`.
 * `max` 0: no queue.
 */
export class OfflineQueue {
  #max;
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
   * @returns {Promise<{offset: number}>}
   */
  add(room, data) {
    return new Promise((resolve, reject) => {
      this.#items.push({ room, data, resolve, reject });
      while (this.#items.length > this.#max) {
        const oldest = /** @type {Queued} */ (this.#items.shift());
        oldest.reject(new SwitchboardError('queue_full', `offline queue is full (max ${this.#max})`, { room: oldest.room, op: 'publish' }));
      }
    });
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
