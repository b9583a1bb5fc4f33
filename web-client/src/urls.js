// The URLs the client derives from the one it is given.

// Room names (PROTOCOL.md, "Room names"): 1-200 bytes of letters, digits and : _ - . @ /
export const ROOM_NAME = /^[A-Za-z0-9:_\-.@/]{1,200}$/;

/**
 * `url` resolved against the page, if there is one (so that `/ws` works in a browser).
 * @param {string | URL} url
 * @returns {URL}
 */
function resolve(url) {
  const base = globalThis.location?.href;
  return base ? new URL(String(url), base) : new URL(String(url));
}

/**
 * The URL the WebSocket opens: `url` resolved against the page (so `/ws` works in a browser,
 * `http(s):` becoming `ws(s):`), without a fragment, with `token=<token>` in its query when a
 * token is given (replacing any `token` already there, keeping every other parameter).
 * @param {string | URL} url
 * @param {string | null | undefined} token
 * @returns {string}
 */
export function connectionUrl(url, token) {
  const u = resolve(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.hash = '';
  if (token != null && token !== '') {
    const params = new URLSearchParams(u.search);
    params.delete('token');
    params.append('token', String(token));
    u.search = params.toString();
  }
  return u.toString();
}

/**
 * The URL at which a node says why a handshake of `url` with `token` would be refused: the
 * WebSocket path over plain HTTP(S), without an upgrade (`wss://host/ws?token=…` →
 * `https://host/ws?token=…`).
 * @param {string | URL} url
 * @param {string | null | undefined} token
 * @returns {string}
 */
export function admissionUrl(url, token) {
  const u = new URL(connectionUrl(url, token));
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.toString();
}

/**
 * The HTTP endpoints that go with a WebSocket URL: `stream` (GET /sse), `poll` (GET /poll) and
 * `api` (the HTTP API's base), all http(s) and beside the WebSocket path: `wss://host/ws` gives
 * `https://host/sse`, `https://host/poll` and `https://host/api/`. Relative URLs resolve against the page.
 * @param {string | URL} url
 * @returns {{stream: string, poll: string, api: string}}
 */
export function sseUrls(url) {
  const u = resolve(url);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  u.hash = '';
  u.search = '';
  const dir = u.pathname.slice(0, u.pathname.lastIndexOf('/') + 1);
  return { stream: new URL(`${dir}sse`, u).toString(), poll: new URL(`${dir}poll`, u).toString(), api: new URL(`${dir}api/`, u).toString() };
}
