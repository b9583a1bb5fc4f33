// The event emitter of the client and its rooms.

/** @typedef {((...args: any[]) => void) & {listener?: Function}} Listener */

// Reports an exception thrown by an application's listener without breaking the client's state.
/** @param {unknown} err */
function reportListenerError(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else setTimeout(() => { throw err; });
}

/** A minimal event emitter shared by the client and its rooms. */
export class Emitter {
  /** @type {Map<string, Set<Listener>>} */
  #listeners = new Map();

  /**
   * Adds a listener; returns a function that removes it.
   * @param {string} event
   * @param {(...args: any[]) => void} listener
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
   * @param {(...args: any[]) => void} listener
   * @returns {() => void}
   */
  once(event, listener) {
    /** @type {Listener} */
    const wrapper = (...args) => { off(); listener(...args); };
    wrapper.listener = listener; // so that off(event, listener) finds it
    const off = this.on(event, wrapper);
    return off;
  }

  /**
   * @param {string} event
   * @param {(...args: any[]) => void} listener
   */
  off(event, listener) {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of set) {
      if (fn === listener || fn.listener === listener) { set.delete(fn); break; }
    }
    if (set.size === 0) this.#listeners.delete(event);
  }

  /**
   * @protected
   * @param {string} event
   * @returns {number}
   */
  listenerCount(event) {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /**
   * Calls the event's listeners; an exception of one is reported and does not stop the others.
   * @protected
   * @param {string} event
   * @param {...unknown} args
   * @returns {boolean} whether the event had listeners
   */
  emit(event, ...args) {
    const set = this.#listeners.get(event);
    if (!set) return false;
    for (const fn of [...set]) {
      try { fn(...args); } catch (err) { reportListenerError(err); }
    }
    return true;
  }
}
