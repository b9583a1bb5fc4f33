// The heartbeat of a connection: finds a dead network that TCP would notice only after minutes.

import { now } from './timing.js';

/**
 * When nothing has arrived for `interval` ms, `ping()`; when still nothing arrives within
 * `timeout` ms, `dead()`. Any traffic counts as life, so a busy connection sends no pings. One
 * per open connection; `stop()` when it ends.
 */
export class Heartbeat {
  #interval;
  #timeout;
  #ping;
  #dead;
  #lastReceived = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  /** @type {ReturnType<typeof setTimeout> | undefined} set while a ping waits for traffic */
  #deadTimer;

  /**
   * @param {number} interval ms of silence before a ping; 0: no heartbeat
   * @param {number} timeout ms to wait for traffic after a ping
   * @param {{ping: () => void, dead: () => void}} actions
   */
  constructor(interval, timeout, { ping, dead }) {
    this.#interval = interval;
    this.#timeout = timeout;
    this.#ping = ping;
    this.#dead = dead;
  }

  /**
   * Starts counting from `at`, when the connection opened.
   * @param {number} at
   */
  start(at) {
    this.#lastReceived = at;
    this.#arm();
  }

  /** Something arrived. */
  received() {
    this.#lastReceived = now();
    if (this.#deadTimer !== undefined) { // the ping is answered, or something else arrived
      clearTimeout(this.#deadTimer);
      this.#deadTimer = undefined;
      this.#arm();
    }
  }

  stop() {
    clearTimeout(this.#timer);
    clearTimeout(this.#deadTimer);
    this.#timer = this.#deadTimer = undefined;
  }

  #arm() {
    if (this.#interval === 0) return;
    clearTimeout(this.#timer);
    const wait = Math.max(0, this.#lastReceived + this.#interval - now());
    this.#timer = setTimeout(() => this.#tick(), wait);
  }

  #tick() {
    if (now() - this.#lastReceived < this.#interval) { this.#arm(); return; }
    this.#ping();
    this.#deadTimer = setTimeout(() => this.#dead(), this.#timeout);
  }
}
