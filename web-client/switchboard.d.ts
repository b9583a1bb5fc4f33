// Types of switchboard.js, the Switchboard client (browsers and Node >= 18).
// The wire protocol is protocol/PROTOCOL.md; usage is in README.md beside this file.
// Written by hand, and checked against the modules' JSDoc types by test/api-types.ts
// (`npm run typecheck`, part of `npm test`).

/** JSON as the node carries it: `data` of a publish may be any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What a message may carry: a JSON value, or bytes. Bytes are published as a binary frame (over
 * Server-Sent Events as `{"$binary":"<base64>"}`) and received as a Uint8Array, as is a JSON
 * value of exactly that one-member shape.
 */
export type Data = Json | Uint8Array;

/** Bytes a publish takes: a Uint8Array (a Node Buffer is one), another typed array, a DataView or an ArrayBuffer. */
export type Bytes = ArrayBuffer | ArrayBufferView;

/** Error codes of the protocol (PROTOCOL.md "Error codes") and of the client. */
export type ErrorCode =
  // the node's
  | 'bad_json'
  | 'bad_request'
  | 'unknown_op'
  | 'bad_room'
  | 'not_subscribed'
  | 'too_many_rooms'
  | 'forbidden'
  | 'bad_token'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'
  // why the node refused a connection (an `error` event with op 'connect')
  | 'origin_not_allowed'
  | 'missing_token'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'bad_audience'
  | 'bad_issuer'
  | 'unknown_key'
  | 'alg_not_allowed'
  | 'revoked'        // a backend revoked the user's (or the token's) access for a while: final
  // the client's
  | 'timeout'        // no reply within requestTimeout
  | 'disconnected'   // not connected (and no offline queue), or the connection was lost before the reply
  | 'queue_full'     // pushed out of the offline queue by newer publishes
  | 'token_error'    // getToken() threw, timed out, or gave no token for a refresh
  | 'connect_error'  // the WebSocket constructor threw (e.g. a malformed URL)
  | (string & {});

export class SwitchboardError extends Error {
  constructor(code: ErrorCode, message?: string, details?: { room?: string; op?: string; cause?: unknown });
  readonly name: 'SwitchboardError';
  /** What programs should look at: a protocol error code or one of the client's own. */
  readonly code: ErrorCode;
  /** The room of the request that failed, if it had one. */
  readonly room?: string;
  /** The op of the request that failed (`publish`, `subscribe`, `presence`, `refresh`, …). */
  readonly op?: string;
}

/** The WebSocket constructor to use: the browser's, or `ws`'s in Node. */
export interface WebSocketConstructor {
  new (url: string): WebSocketLike;
}

/** The part of the standard WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string | Uint8Array<ArrayBuffer>): void;
  /** Set to 'arraybuffer': binary frames (messages of bytes) arrive as ArrayBuffers. */
  binaryType?: string;
  close(code?: number, reason?: string): void;
  /** Used when present (the `ws` package) to drop a dead connection at once. */
  terminate?(): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface SwitchboardOptions {
  /** A JWT sent with every connection as `?token=` (browsers cannot set headers on a WebSocket). */
  token?: string;
  /**
   * Called for a fresh JWT before every (re)connect and when the node pushes a refresh;
   * may be async. `null`/`undefined`: connect without a token (anonymous). Wins over `token`.
   */
  getToken?: TokenSource;
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (in Node: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** Floor of the reconnect delay in ms (default 500). */
  minReconnectDelay?: number;
  /** Ceiling of the reconnect delay in ms (default 30000). */
  maxReconnectDelay?: number;
  /** A ping is sent after this many ms without receiving anything (default 20000; 0: no heartbeat). */
  heartbeatInterval?: number;
  /** The connection is declared dead when nothing arrives this many ms after a ping (default 10000). */
  heartbeatTimeout?: number;
  /** How long a request waits for its reply, and getToken() and the handshake may take, in ms (default 10000). */
  requestTimeout?: number;
  /**
   * Keep up to `max` publishes made while disconnected and send them after the reconnect (default:
   * off). With it, every publish carries an idempotency key, and one whose connection was lost
   * before the node answered is sent again after the reconnect (at most twice, within
   * `resendWithin` ms of its first send, default 240000: below the node's --idempotency-window).
   */
  offlineQueue?: { max: number; resendWithin?: number };
  /**
   * What to connect with, in order of preference (default `['websocket', 'sse', 'poll']`). `sse`:
   * a Server-Sent Events stream (GET /sse beside the WebSocket path) for messages, and the HTTP
   * API for requests — for networks whose proxies refuse WebSockets. `poll`: long-polling (GET
   * /poll) in place of the stream — for networks whose proxies also hold a response until it
   * ends, where a stream brings nothing (taken when a stream was given up for its silence).
   */
  transports?: Transport[];
  /** WebSocket attempts in a row that never open before the next attempt falls back (default 2). */
  fallbackAfter?: number;
  /** The fetch function for `sse` and `poll` (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

export type Transport = 'websocket' | 'sse' | 'poll';

/** Options of a publish. */
export interface PublishOptions {
  /** Idempotency key: 1-64 letters, digits and `_ - . :`; unpredictable (random), unique per message. */
  idem?: string;
}

/** The node's ack of a publish: the message's offset in its room (subscribers get the same `offset`). */
export interface PublishAck {
  offset: number;
}

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting';

export interface PresenceUser {
  /** The user id (JWT `sub`, or `anon-…`). */
  user: string;
  /** The user's public information (the token's `info` claim; `{}` for anonymous users). */
  info: { [key: string]: Json };
  /** How many of the user's connections are in the room. */
  conns: number;
}

export interface MessageEvent<T = Data> {
  room: string;
  data: T;
  /** The publisher's user id. */
  from: string;
  /** The message's number in the room: 1, 2, 3, … */
  offset: number;
}

/** Where a room's stream stands: the offset of a message, and the epoch (name) of the room's history. */
export interface Position {
  offset: number;
  epoch: string;
}

export interface History<T = Data> {
  messages: MessageEvent<T>[];
  position: Position;
}

export interface PresenceEvent {
  room: string;
  user: string;
  info: { [key: string]: Json };
}

export interface SubscribedEvent {
  room: string;
  /** true when this is a resubscribe after a reconnect (or a gap), or the node's announcement while connected: refetch presence. */
  resubscribed: boolean;
  /** With a known position: true when the node replays every message missed since (they follow); false when its history did not reach back, or when the node announces while connected that the room's epoch changed or messages were lost — reload the room. undefined on a first subscribe. */
  recovered?: boolean;
  /** The room's position after the reply. */
  position: Position | null;
}

export interface UnsubscribedEvent {
  room: string;
  /** Set when the node or a failed subscribe ended the room (e.g. `forbidden`); absent after `unsubscribe()`. */
  code?: ErrorCode;
  message?: string;
}

export interface RoomEvents<T = Data> {
  message: (event: MessageEvent<T>) => void;
  join: (event: PresenceEvent) => void;
  leave: (event: PresenceEvent) => void;
  subscribed: (event: SubscribedEvent) => void;
  unsubscribed: (event: UnsubscribedEvent) => void;
  error: (error: SwitchboardError) => void;
}

export interface ClientEvents {
  connecting: (event: { attempt: number }) => void;
  connected: (event: { reconnected: boolean; transport: Transport }) => void;
  /** `refused`: the code of a refusal that ended connecting for good (`origin_not_allowed`, `revoked`, or a refused static token). */
  disconnected: (event: { code: number; reason: string; willReconnect: boolean; refused?: ErrorCode }) => void;
  reconnecting: (event: { delay: number; attempt: number }) => void;
  error: (error: SwitchboardError | Error) => void;
}

declare class Emitter<Events extends { [E in keyof Events]: (...args: any[]) => void }> {
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void;
  /** Adds a listener called at most once; returns a function that removes it. */
  once<E extends keyof Events>(event: E, listener: Events[E]): () => void;
  off<E extends keyof Events>(event: E, listener: Events[E]): void;
}

export class Room<T = Data> extends Emitter<RoomEvents<T>> {
  private constructor();
  readonly name: string;
  readonly client: Switchboard;
  /** Whether this subscription receives join/leave events. */
  readonly presenceEvents: boolean;
  /** `subscribing` (until the node's ok, and again while reconnecting), `subscribed`, or `unsubscribed` (for good). */
  readonly state: 'subscribing' | 'subscribed' | 'unsubscribed';
  /** The last message received (or the subscribe reply's position); sent on every resubscribe to recover missed messages. */
  readonly position: Position | null;
  /** Resolves when the node accepted the message, with its offset in the room. `idem`: an idempotency key (see Switchboard#publish). */
  publish(data: T | Bytes, options?: PublishOptions): Promise<PublishAck>;
  /** The users present in the room, sorted by user id. */
  presence(): Promise<PresenceUser[]>;
  /** The room's latest messages kept by the node, oldest first. */
  history(options?: { limit?: number }): Promise<History<T>>;
  /** Leaves the room for good; resolves when the node confirmed (at once when not connected). */
  unsubscribe(): Promise<void>;
}

export class Switchboard extends Emitter<ClientEvents> {
  /** `url`: the node's WebSocket endpoint, e.g. `wss://host/ws`; in a browser also `/ws`. */
  constructor(url: string | URL, options?: SwitchboardOptions);
  readonly state: ConnectionState;
  /** What the current (or next) connection uses. */
  readonly transport: Transport;
  /** The rooms subscribed or being subscribed. */
  readonly rooms: Room[];
  /** Publishes waiting in the offline queue. */
  readonly queued: number;
  /** Starts connecting, and reconnecting until disconnect(). */
  connect(): this;
  /** Closes (1000) and stops reconnecting; pending requests and queued publishes reject with `disconnected`. Rooms are kept for a later connect(). */
  disconnect(): void;
  /** Subscribes now or as soon as connected, and again after every reconnect. Same name: same Room (presence flag updated). */
  subscribe<T = Data>(room: string, options?: { presence?: boolean; since?: Position }): Room<T>;
  /**
   * Publishes to any room, subscribed or not; resolves with the node's ack. With `idem`, a retry
   * with the same key within the node's window gets the first publish's ack and is not delivered
   * again. With the offline queue on, every publish gets a key and is sent again after a reconnect
   * when its connection was lost before the node answered.
   */
  publish(room: string, data: Json | Bytes, options?: PublishOptions): Promise<PublishAck>;
  /** The users present in any room. */
  presence(room: string): Promise<PresenceUser[]>;
  /** The latest messages of any room (with the right to subscribe to it), oldest first. */
  history<T = Data>(room: string, options?: { limit?: number }): Promise<History<T>>;
  /** An application-level round trip; resolves with its duration in ms. */
  ping(): Promise<number>;
}

/** The delay in ms before reconnect attempt `attempt` (0-based): uniform in [min, min(max, min·2^(attempt+1))]. */
export function backoffDelay(attempt: number, min: number, max: number, random?: () => number): number;

/** The URL the client opens: `url` resolved (http→ws, https→wss), no fragment, `token=` set in the query. */
export function connectionUrl(url: string | URL, token?: string | null): string;

/** Where the node says why a handshake would be refused: the connection URL over HTTP(S), no upgrade (`wss://h/ws?token=…` → `https://h/ws?token=…`). */
export function admissionUrl(url: string | URL, token?: string | null): string;

/** The Server-Sent Events stream and HTTP API base beside a WebSocket URL (`wss://h/ws` → `https://h/sse`, `https://h/api/`). */
export function sseUrls(url: string | URL): { stream: string; api: string };

/** Splits text/event-stream text, pushed as it arrives, into events with data; comments call `onComment`. */
export class EventStreamParser {
  constructor(onEvent: (event: { data: string; id?: string }) => void, onComment?: () => void);
  push(text: string): void;
}

export default Switchboard;
