// Errors of the client and of the node, and the codes the client acts on.

/**
 * An error of the client or of the node. `code` is the protocol's error code (`bad_room`,
 * `forbidden`, `rate_limited`, …) or one of the client's own: `timeout`, `disconnected`,
 * `queue_full`, `token_error`, `connect_error`.
 */
export class SwitchboardError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {{room?: string, op?: string, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message || code, details.cause === undefined ? undefined : { cause: details.cause });
    /** @type {'SwitchboardError'} */
    this.name = 'SwitchboardError';
    /** @type {string} */
    this.code = code;
    /** @type {string | undefined} */
    this.room = details.room;
    /** @type {string | undefined} */
    this.op = details.op;
  }
}

/**
 * The SwitchboardError of an `error` object the node sent (`{code, message}`).
 * @param {{code?: string, message?: string} | null | undefined} error
 * @param {{room?: string, op?: string}} [details]
 * @returns {SwitchboardError}
 */
export function nodeError(error, details = {}) {
  return new SwitchboardError(error?.code ?? 'internal', error?.message, details);
}

// Close codes (PROTOCOL.md, "Close codes").
export const CLOSE_NORMAL = 1000;
export const CLOSE_ABNORMAL = 1006; // what a dropped connection reports; never sent
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_DISCONNECTED = 4003; // by a backend (POST /api/disconnect): reconnect, unless refused

// Subscribe failures worth retrying on the same connection; any other code ends the room.
export const RETRYABLE = new Set(['timeout', 'rate_limited', 'unavailable', 'internal']);

// A refusal no token changes: a backend revoked the user's (or the token's) access for a while
// (POST /api/disconnect with "until"). Always final.
export const REVOKED = 'revoked';

// Refusals that say the token is not good: final when the client has no getToken() to ask for
// another one.
export const TOKEN_REFUSALS = new Set(['missing_token', 'bad_token', 'expired', 'not_yet_valid', 'bad_signature',
  'bad_audience', 'bad_issuer', 'unknown_key', 'alg_not_allowed']);
