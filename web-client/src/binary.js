// Binary data (PROTOCOL.md, "Binary data"): bytes published as a WebSocket binary frame (a JSON
// header, a newline, the bytes) or, on the JSON paths, as {"$binary":"<base64>"}; received as a
// binary frame or in that JSON form, and handed to the application as a Uint8Array either way.

const NEWLINE = 10;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whether `data` is bytes: a Uint8Array (a Node Buffer is one), another typed array or DataView,
 * or an ArrayBuffer.
 * @param {unknown} data
 * @returns {data is ArrayBuffer | ArrayBufferView}
 */
export function isBytes(data) {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

/**
 * `data`'s bytes as a Uint8Array over the same memory (no copy): a view's own range only.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A copy of `data`'s bytes, taken when it is published: the caller may reuse its buffer.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function copyBytes(data) {
  return new Uint8Array(bytesOf(data)); // a copy (a Node Buffer's slice() would share its memory)
}

/**
 * Bytes in standard, padded base64.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * @param {string} text standard base64
 * @returns {Uint8Array}
 */
function fromBase64(text) {
  const chars = atob(text);
  const bytes = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) bytes[i] = chars.charCodeAt(i);
  return bytes;
}

/**
 * `data` as the JSON paths carry it: bytes as {"$binary":"<base64>"}, anything else as it is.
 * @param {unknown} data
 * @returns {unknown}
 */
export function toJsonData(data) {
  return isBytes(data) ? { $binary: toBase64(bytesOf(data)) } : data;
}

/**
 * A message's data as the application receives it: {"$binary":"<base64>"} (the one member) as a
 * Uint8Array, anything else as it is.
 * @param {unknown} data
 * @returns {unknown}
 */
export function fromJsonData(data) {
  if (data === null || typeof data !== 'object' || isBytes(data)) return data;
  const keys = Object.keys(data);
  // @ts-ignore: an object of one member
  if (keys.length === 1 && keys[0] === '$binary' && typeof data.$binary === 'string') {
    try { return fromBase64(/** @type {any} */ (data).$binary); } catch { return data; }
  }
  return data;
}

/**
 * A publish of bytes as a binary frame: the request's JSON header, a newline, the bytes.
 * @param {object} header
 * @param {Uint8Array} bytes
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function binaryFrame(header, bytes) {
  const head = encoder.encode(JSON.stringify(header));
  const frame = new Uint8Array(head.length + 1 + bytes.length);
  frame.set(head);
  frame[head.length] = NEWLINE;
  frame.set(bytes, head.length + 1);
  return frame;
}

/**
 * A binary frame from the node: its JSON header (a message push without `data`) with the bytes
 * after the newline as `data`; undefined when it is not of that form.
 * @param {ArrayBuffer | ArrayBufferView} raw
 * @returns {any}
 */
export function parseBinaryFrame(raw) {
  const frame = bytesOf(raw);
  const newline = frame.indexOf(NEWLINE);
  if (newline < 0) return undefined;
  let header;
  try { header = JSON.parse(decoder.decode(frame.subarray(0, newline))); } catch { return undefined; }
  if (header === null || typeof header !== 'object') return undefined;
  header.data = frame.slice(newline + 1);
  return header;
}
