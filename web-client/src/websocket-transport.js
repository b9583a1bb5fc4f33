// The WebSocket transport: the protocol's JSON frames over one WebSocket (PROTOCOL.md), and
// binary frames for messages of bytes.

import { binaryFrame, bytesOf, isBytes, parseBinaryFrame } from './binary.js';
import { CLOSE_ABNORMAL, SwitchboardError, nodeError } from './errors.js';
import { PendingRequests } from './transport.js';

/** @typedef {import('./transport.js').Transport} Transport */
/** @typedef {import('./transport.js').TransportEvents} TransportEvents */
/** @typedef {import('./transport.js').SubscribeReply} SubscribeReply */
/** @typedef {import('./transport.js').Position} Position */

/**
 * The part of the standard WebSocket the client uses (the browser's, or the `ws` package's).
 * @typedef {object} WebSocketLike
 * @property {number} readyState
 * @property {(data: string | Uint8Array<ArrayBuffer>) => void} send
 * @property {string} [binaryType] 'arraybuffer': binary frames arrive as ArrayBuffers
 * @property {(code?: number, reason?: string) => void} close
 * @property {() => void} [terminate] the `ws` package: drops the connection without a close handshake
 * @property {((event: any) => void) | null} onopen
 * @property {((event: any) => void) | null} onmessage called with {data}
 * @property {((event: any) => void) | null} onclose called with {code, reason}
 * @property {((event: any) => void) | null} onerror
 */

/** @typedef {new (url: string) => WebSocketLike} WebSocketConstructor */

const OPEN = 1; // WebSocket.OPEN, the same in every implementation

/**
 * A connection over a WebSocket: requests are frames with an `id`, matched with the replies that
 * carry it; frames without an id are pushes.
 * @implements {Transport}
 */
export class WebSocketTransport {
  /** @type {'websocket'} */
  kind = 'websocket';
  #ws;
  #events;
  #requests;
  #detached = false;

  /**
   * Opens the WebSocket (the constructor's exceptions, e.g. for a malformed URL, are thrown).
   * @param {string} url the connection URL, token included
   * @param {WebSocketConstructor} WebSocketImpl
   * @param {TransportEvents} events
   * @param {number} requestTimeout
   */
  constructor(url, WebSocketImpl, events, requestTimeout) {
    this.#events = events;
    this.#requests = new PendingRequests(requestTimeout, (err) => events.error(err));
    const ws = new WebSocketImpl(url);
    this.#ws = ws;
    ws.binaryType = 'arraybuffer'; // not Blobs (a browser's default), which take a read to open
    ws.onopen = () => events.open();
    ws.onmessage = (event) => this.#receive(event.data);
    ws.onclose = (event) => {
      this.#detach();
      events.close(event.code ?? CLOSE_ABNORMAL, event.reason ?? '');
    };
    ws.onerror = () => { /* a close event follows */ };
  }

  get open() { return !this.#detached && this.#ws.readyState === OPEN; }

  /**
   * @param {string} room
   * @param {{presence: boolean, since?: Position}} options
   * @param {(reply: SubscribeReply) => void} onOk
   * @returns {Promise<SubscribeReply>}
   */
  subscribe(room, { presence, since }, onOk) {
    return this.#request('subscribe', since ? { room, presence, since } : { room, presence }, { onOk });
  }

  /** @param {string} room */
  async unsubscribe(room) { await this.#request('unsubscribe', { room }); }

  /**
   * Bytes go as a binary frame: the request's header, a newline, the bytes.
   * @param {string} room
   * @param {unknown} data
   * @param {string} [idem]
   * @returns {Promise<{offset: number}>}
   */
  publish(room, data, idem) {
    const fields = idem === undefined ? { room } : { room, idem };
    if (!isBytes(data)) return this.#request('publish', { ...fields, data });
    return this.#request('publish', fields, {}, (id) => binaryFrame({ op: 'publish', id, ...fields }, bytesOf(data)));
  }

  /** @param {string} room */
  presence(room) { return this.#request('presence', { room }); }

  /**
   * @param {string} room
   * @param {number | undefined} limit
   */
  history(room, limit) { return this.#request('history', limit === undefined ? { room } : { room, limit }); }

  /** @param {number} timeout */
  async ping(timeout) { await this.#request('ping', {}, { timeout }); }

  /** @param {string} token */
  async refresh(token) { await this.#request('refresh', { token }); }

  /**
   * @param {number} code
   * @param {string} reason
   */
  close(code, reason) {
    this.#detach();
    try { this.#ws.close(code, reason); } catch { /* already closing */ }
  }

  /** @param {string} reason */
  terminate(reason) {
    this.#detach();
    try {
      if (typeof this.#ws.terminate === 'function') this.#ws.terminate(); // no close handshake on a dead link
      else this.#ws.close(4000, reason);
    } catch { /* already closed */ }
  }

  #detach() {
    if (this.#detached) return;
    this.#detached = true;
    const ws = this.#ws;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    this.#requests.close();
  }

  /**
   * @param {string} op
   * @param {{room?: string, [field: string]: unknown}} fields
   * @param {{timeout?: number, onOk?: (reply: any) => void}} [options]
   * @param {(id: number) => string | Uint8Array<ArrayBuffer>} [frame] the frame to send (default: the fields as JSON)
   * @returns {Promise<any>}
   */
  #request(op, fields, options, frame = (id) => JSON.stringify({ op, id, ...fields })) {
    if (!this.open) return Promise.reject(new SwitchboardError('disconnected', 'not connected', { room: fields.room, op }));
    return this.#requests.request(op, fields.room, (id) => this.#ws.send(frame(id)), options);
  }

  /** @param {unknown} raw */
  #receive(raw) {
    this.#events.traffic();
    if (this.#detached) return; // a listener closed the connection
    if (isBytes(raw)) { // a message of bytes: its header, a newline, the bytes
      const m = parseBinaryFrame(raw);
      if (m) this.#events.push(m);
      return;
    }
    let m;
    try { m = JSON.parse(typeof raw === 'string' ? raw : String(raw)); } catch { return; }
    if (m === null || typeof m !== 'object') return;
    if (m.id !== undefined && m.id !== null && m.type === undefined) {
      if (m.error) this.#requests.reject(m.id, m.error); // reported as an error when late
      else this.#requests.resolve(m.id, m); // a late ok after a timeout is dropped
      return;
    }
    if (m.error) { // an error that could not be matched to a request (bad_json, binary frames, …)
      this.#events.error(nodeError(m.error));
      return;
    }
    this.#events.push(m);
  }
}
