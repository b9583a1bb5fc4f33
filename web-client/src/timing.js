// Time: the reconnect backoff, a clock, and a timeout for promises.

/** Milliseconds from a monotonic clock where there is one. */
export const now = () => (globalThis.performance?.now ? globalThis.performance.now() : Date.now());

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): exponential backoff with
 * full jitter above the floor, uniform in [min, min(max, min * 2^(attempt+1))].
 * @param {number} attempt
 * @param {number} min
 * @param {number} max
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, min, max, random = Math.random) {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt + 1, 30));
  return min + random() * Math.max(0, ceiling - min);
}

/**
 * `promise`, or a rejection with `onTimeout()` when it has not settled within `ms`.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {() => unknown} onTimeout
 * @returns {Promise<T>}
 */
export function withTimeout(promise, ms, onTimeout) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return Promise.race([
    promise,
    /** @type {Promise<never>} */ (new Promise((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); })),
  ]).finally(() => clearTimeout(timer));
}
