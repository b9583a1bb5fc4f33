// A room of a client: its state, its position in the room's stream, and its events.

import { fromJsonData } from './binary.js';
import { Emitter } from './emitter.js';

/** @typedef {import('./errors.js').SwitchboardError} SwitchboardError */
/** @typedef {import('./transport.js').Position} Position */
/** @typedef {import('./transport.js').SubscribeReply} SubscribeReply */
/** @typedef {import('./transport.js').Push} Push */
/** @typedef {import('./client.js').Switchboard} Switchboard */

/**
 * What a room asks of its client.
 * @typedef {object} RoomHooks
 * @property {(room: Room) => Promise<void>} unsubscribe
 * @property {(error: SwitchboardError) => void} unhandledError an `error` no listener of the room took
 */

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
 *
 * The client tells the room what happens to its subscription through the methods marked
 * internal; the room keeps its state and position, and emits its events.
 */
export class Room extends Emitter {
  #client;
  #hooks;
  #name;
  #presenceEvents;
  /** @type {'subscribing' | 'subscribed' | 'unsubscribed'} */
  #state = 'subscribing';
  /** @type {Position | null} */
  #position = null;
  #everSubscribed = false;
  #attempt = 0; // numbers the subscribes sent: a reply to an older one is stale

  /**
   * @internal
   * @param {Switchboard} client
   * @param {string} name
   * @param {boolean} presence
   * @param {RoomHooks} hooks
   * @param {unknown} [since] a position saved earlier, used when it is one
   */
  constructor(client, name, presence, hooks, since) {
    super();
    this.#client = client;
    this.#hooks = hooks;
    this.#name = name;
    this.#presenceEvents = presence;
    const s = /** @type {{offset?: unknown, epoch?: unknown} | null | undefined} */ (since);
    if (s && Number.isSafeInteger(s.offset) && /** @type {number} */ (s.offset) >= 0 && typeof s.epoch === 'string') {
      this.#position = { offset: /** @type {number} */ (s.offset), epoch: s.epoch };
    }
  }

  /** The room's name. */
  get name() { return this.#name; }

  /** The client this room belongs to. */
  get client() { return this.#client; }

  /** Whether this subscription receives join/leave events. */
  get presenceEvents() { return this.#presenceEvents; }

  /**
   * `subscribing` (until the node's ok, and again while reconnecting), `subscribed`, or
   * `unsubscribed` (for good).
   */
  get state() { return this.#state; }

  /**
   * Where the room's stream stands for this client: the last message received, or the
   * subscribe reply's position. null before the first reply.
   */
  get position() { return this.#position; }

  /**
   * Publishes `data` (any JSON value, or bytes: a Uint8Array, an ArrayBuffer) to the room;
   * resolves when the node accepted it, with the message's offset. Subscribers receive bytes as a
   * Uint8Array. `options.idem`: an idempotency key (see Client#publish).
   * @param {unknown} data
   * @param {{idem?: string}} [options]
   * @returns {Promise<{offset: number}>}
   */
  publish(data, options) { return this.#client.publish(this.#name, data, options); }

  /**
   * The users present in the room, sorted by user id.
   * @returns {Promise<Array<{user: string, info: {[key: string]: any}, conns: number}>>}
   */
  presence() { return this.#client.presence(this.#name); }

  /**
   * The room's latest messages kept by the node, oldest first (each as a `message` event).
   * @param {{limit?: number}} [options] limit: 1-1000, default 100
   * @returns {Promise<{messages: Array<{room: string, data: any, from: string, offset: number}>, position: Position}>}
   */
  history(options) { return this.#client.history(this.#name, options); }

  /**
   * Leaves the room: no event of it is delivered from now on, and it is not resubscribed.
   * Resolves when the node confirmed (at once when not connected).
   * @returns {Promise<void>}
   */
  unsubscribe() { return this.#hooks.unsubscribe(this); }

  // ---- what the client tells the room ----

  /**
   * Sets the presence flag; whether it changed.
   * @internal
   * @param {boolean} presence
   * @returns {boolean}
   */
  _setPresenceEvents(presence) {
    if (this.#presenceEvents === presence) return false;
    this.#presenceEvents = presence;
    return true;
  }

  /**
   * A subscribe is being sent: its number (see `_isCurrent`) and what it asks for (the presence
   * flag, and the position to resume from when there is one).
   * @internal
   * @returns {{attempt: number, presence: boolean, since?: Position}}
   */
  _subscribing() {
    const attempt = ++this.#attempt;
    const p = this.#position;
    return p && p.epoch ? { attempt, presence: this.#presenceEvents, since: { offset: p.offset, epoch: p.epoch } }
      : { attempt, presence: this.#presenceEvents };
  }

  /**
   * Whether subscribe `attempt` is still the one that counts (the room is not unsubscribed, no
   * later subscribe was sent, and the connection it went on was not lost).
   * @internal
   * @param {number} attempt
   */
  _isCurrent(attempt) { return this.#state !== 'unsubscribed' && attempt === this.#attempt; }

  /**
   * The node's ok to the subscribe sent with `since` (or without): the room is subscribed, at the
   * reply's position unless the missed messages follow.
   * @internal
   * @param {SubscribeReply} reply
   * @param {boolean} withSince
   */
  _subscribed(reply, withSince) {
    const resubscribed = this.#everSubscribed;
    this.#everSubscribed = true;
    const recovered = withSince ? reply.recovered === true : undefined;
    // Recovered: the missed messages follow and move the position on. Otherwise carry on from
    // the room's position now.
    if (!recovered && typeof reply.offset === 'number' && typeof reply.epoch === 'string') {
      this.#position = { offset: reply.offset, epoch: reply.epoch };
    }
    this.#state = 'subscribed';
    this.#deliver('subscribed', { room: this.#name, resubscribed, recovered, position: this.#position });
  }

  /**
   * The connection was lost: the room waits for the resubscribe (any subscribe in flight is stale).
   * @internal
   */
  _connectionLost() {
    if (this.#state === 'unsubscribed') return;
    this.#state = 'subscribing';
    this.#attempt++;
  }

  /**
   * A gap in the offsets: the room waits for a resubscribe from its position, which replays the
   * gap. False when the room was not subscribed (a resubscribe is already coming).
   * @internal
   * @returns {boolean}
   */
  _recovering() {
    if (this.#state !== 'subscribed') return false;
    this.#state = 'subscribing';
    return true;
  }

  /**
   * A message of the room: emitted when it is the next one. False when offsets jumped (messages
   * were lost on the way: the client recovers them); a message already had, or one that comes
   * while the room is not subscribed (a resubscribe will replay it), is dropped.
   * @internal
   * @param {Push} m
   * @returns {boolean}
   */
  _message(m) {
    if (this.#state !== 'subscribed') return true;
    const position = this.#position;
    if (typeof m.offset === 'number' && position) {
      if (m.offset <= position.offset && m.offset !== 1) return true; // already had it
      if (m.offset !== position.offset + 1) return false;
    }
    if (typeof m.offset === 'number') this.#position = { offset: m.offset, epoch: position?.epoch ?? '' };
    this.#deliver('message', { room: m.room, data: fromJsonData(m.data), from: m.from, offset: m.offset });
    return true;
  }

  /**
   * The node re-announces the subscription: the room's epoch changed (its history was lost,
   * numbering starts again) or messages were lost on the way. The messages from the new
   * position on follow; the application reloads what it shows.
   * @internal
   * @param {Push} m
   */
  _announced(m) {
    if (this.#state !== 'subscribed') return; // a resubscribe will say where it stands
    if (typeof m.offset !== 'number' || typeof m.epoch !== 'string') return;
    this.#position = { offset: m.offset, epoch: m.epoch };
    this.#deliver('subscribed', { room: this.#name, resubscribed: true, recovered: m.recovered === true, position: this.#position });
  }

  /**
   * A join or leave of the room.
   * @internal
   * @param {Push} m
   */
  _presence(m) {
    this.#deliver(m.type, { room: m.room, user: m.user, info: m.info ?? {} });
  }

  /**
   * The room ended for good: unsubscribed, refused, or ended by the node.
   * @internal
   * @param {{room: string, code?: string, message?: string}} info
   */
  _ended(info) {
    this.#state = 'unsubscribed';
    this.#deliver('unsubscribed', info);
  }

  /**
   * An error of the room: to the room's `error` listeners, or to the client's when it has none.
   * @internal
   * @param {SwitchboardError} err
   */
  _error(err) { this.#deliver('error', err); }

  /**
   * Emits an event of the room; an `error` nobody listens to goes to the client.
   * @param {string} event
   * @param {unknown} arg
   */
  #deliver(event, arg) {
    if (event === 'error' && this.listenerCount('error') === 0) {
      this.#hooks.unhandledError(/** @type {SwitchboardError} */ (arg));
      return;
    }
    this.emit(event, arg);
  }
}
