// Test fixtures: real Switchboard nodes on loopback, a TCP proxy that can play a dead network,
// an HTTP proxy that holds responses until they end, JWTs, and bounded waits for events. Nothing here imitates the node.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Switchboard } from '../../switchboard.js';

export const webClientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const nodeBin = path.resolve(webClientDir, process.env.SWITCHBOARD_BIN || '../build/server/switchboard');

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** A running `switchboard` process. */
export class SwitchboardNode {
  /**
   * Starts a node on 127.0.0.1 and resolves once it logged its port.
   * @param {{port?: number, anonymous?: boolean, args?: string[], env?: object}} [options]
   */
  static async start({ port = 0, anonymous = true, args = [], env = {} } = {}) {
    const argv = ['--bind', '127.0.0.1', '--port', String(port), '--log-level', 'info',
      '--static-dir', webClientDir, '--threads', '2', '--drain-delay-ms', '0', ...(anonymous ? ['--allow-anonymous'] : []), ...args];
    const child = spawn(nodeBin, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    running.add(child);
    const node = new SwitchboardNode(child);
    try {
      node.port = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node did not start in 10 s:\n${node.log}`)), 10000);
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk) => {
          node.log += chunk;
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(node.log);
          if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`node exited (${code ?? signal}) before listening:\n${node.log}`));
        });
        child.once('error', (err) => { clearTimeout(timer); reject(err); });
      });
    } catch (err) {
      running.delete(child);
      child.kill('SIGKILL');
      throw err;
    }
    return node;
  }

  constructor(child) {
    this.child = child;
    this.port = 0;
    this.log = '';
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }));
  }

  get wsUrl() { return `ws://127.0.0.1:${this.port}/ws`; }
  get httpUrl() { return `http://127.0.0.1:${this.port}`; }

  /** SIGTERM (the node closes its connections with 1001 and exits 0); SIGKILL after 10 s. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/** Client options for tests: quick reconnects and requests. */
export const FAST = { WebSocket, minReconnectDelay: 20, maxReconnectDelay: 200, requestTimeout: 3000 };

/**
 * open(url, options) for a test file: a Switchboard client with FAST options, to `url` or else
 * to defaultUrl(). Every client it opened is disconnected after each test.
 * @param {() => string} defaultUrl
 */
export function clientOpener(defaultUrl) {
  const clients = new Set();
  afterEach(() => {
    for (const c of clients) c.disconnect();
    clients.clear();
  });
  return (url, options = {}) => {
    const c = new Switchboard(url ?? defaultUrl(), { ...FAST, ...options });
    clients.add(c);
    return c;
  };
}

/**
 * A node of a test's own, which the test stops and starts again on the same port: stop() stops
 * the one running now, restart() starts another, close() (in a finally block) stops them all.
 */
export class OwnNode {
  /** @param {Parameters<typeof SwitchboardNode.start>[0]} [options] */
  static async start(options) {
    const own = new OwnNode();
    own.first = own.current = await SwitchboardNode.start(options);
    return own;
  }

  get port() { return this.first.port; }
  get wsUrl() { return this.first.wsUrl; }

  stop() { return this.current.stop(); }

  /** Starts a node again on the same port, with `options` as for SwitchboardNode.start. */
  async restart(options = {}) {
    this.current = await SwitchboardNode.start({ ...options, port: this.first.port });
    return this.current;
  }

  async close() {
    await this.current.stop();
    await this.first.stop();
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of a node. freeze() makes the connections open now silent
 * in both directions (bytes are swallowed, sockets stay open): a dead network, as a laptop
 * lid or a NAT timeout makes one; muteReplies() silences only what the node sends. Connections opened later pass. down() and up() cut the
 * network and bring it back. With `blockWebSockets`, it answers WebSocket upgrades 403 and
 * passes every other request, like a proxy that does not allow WebSockets.
 */
export async function startProxy(targetPort, { blockWebSockets = false } = {}) {
  const pairs = new Set();
  let refusing = false;
  let upgradesRefused = 0;
  const server = net.createServer((client) => {
    if (refusing) { client.destroy(); return; }
    const pair = { client, upstream: null, frozen: false, muted: false };
    pairs.add(pair);
    const end = () => { pair.client.destroy(); pair.upstream?.destroy(); pairs.delete(pair); };
    client.on('error', end);
    client.on('close', end);
    const connect = (first) => {
      pair.upstream = net.connect(targetPort, '127.0.0.1');
      pair.upstream.on('data', (d) => { if (!pair.frozen && !pair.muted) pair.client.write(d); });
      pair.upstream.on('error', end);
      pair.upstream.on('close', end);
      if (first.length) pair.upstream.write(first);
    };
    if (!blockWebSockets) connect(Buffer.alloc(0));
    // With blockWebSockets, the request head is read first: an upgrade is refused (as some
    // corporate proxies do), anything else passes.
    let head = Buffer.alloc(0);
    client.on('data', (d) => {
      if (pair.frozen) return;
      if (pair.upstream) { pair.upstream.write(d); return; }
      head = Buffer.concat([head, d]);
      if (!head.includes('\r\n\r\n')) return;
      if (/^upgrade:\s*websocket/im.test(head.toString('latin1'))) {
        upgradesRefused++;
        client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      connect(head);
    });
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  return {
    port: server.address().port,
    get connections() { return pairs.size; },
    /** WebSocket upgrades refused (with blockWebSockets). */
    get upgradesRefused() { return upgradesRefused; },
    freeze() { for (const p of pairs) p.frozen = true; },
    /** What the node sends on the connections open now is swallowed; what clients send passes. */
    muteReplies() { for (const p of pairs) p.muted = true; },
    /** The network goes down: open connections are cut and new ones refused until up(). */
    down() {
      refusing = true;
      for (const p of pairs) { p.client.destroy(); p.upstream?.destroy(); }
      pairs.clear();
    },
    up() { refusing = false; },
    close() {
      for (const p of pairs) { p.client.destroy(); p.upstream?.destroy(); }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a node that holds every response until it ends, then
 * passes it whole (as some corporate and antivirus proxies do), and refuses WebSocket upgrades
 * (403): a WebSocket never opens and a Server-Sent Events stream never shows a byte, but
 * ordinary requests — polls among them — pass. `requests` counts what it forwarded, by path.
 */
export async function startBufferingProxy(targetPort) {
  const requests = new Map();
  let upgradesRefused = 0;
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const chunks = [];
      answer.on('data', (chunk) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...answer.headers };
        delete headers['transfer-encoding'];
        headers['content-length'] = String(body.length);
        res.writeHead(answer.statusCode ?? 502, headers);
        res.end(body);
      });
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    // The client gave up (an aborted fetch): so does the proxy, upstream.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });
  server.on('upgrade', (req, socket) => {
    upgradesRefused++;
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  return {
    port: server.address().port,
    requests,
    get upgradesRefused() { return upgradesRefused; },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HS256 JWT. */
export function signJwt(claims, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * Resolves with the first argument of the next `event` of `emitter` for which `predicate`
 * holds; rejects after `timeout` ms.
 */
export function next(emitter, event, { timeout = 5000, predicate = () => true } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${event} event within ${timeout} ms`)); }, timeout);
    const off = emitter.on(event, (arg) => {
      if (!predicate(arg)) return;
      clearTimeout(timer);
      off();
      resolve(arg);
    });
  });
}

/** Records every event of the given names, in order, as [name, arg]. */
export function record(emitter, events) {
  const log = [];
  for (const e of events) emitter.on(e, (arg) => log.push([e, arg]));
  return log;
}

/** Rejects if `promise` does not settle within `ms`. */
export function within(ms, promise, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** Collects the `message` events of a room and lets a test wait for the n-th. */
export function inbox(room) {
  const items = [];
  const waiters = [];
  room.on('message', (m) => {
    items.push(m);
    for (const w of [...waiters]) if (items.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(items.slice()); }
  });
  return {
    items,
    waitFor(n, timeout = 5000) {
      if (items.length >= n) return Promise.resolve(items.slice());
      return within(timeout, new Promise((resolve) => waiters.push({ n, resolve })), `message #${n} of ${room.name}`);
    },
  };
}

/** Connects `client` and resolves with it once it is connected. */
export async function connected(client) {
  const ready = next(client, 'connected');
  client.connect();
  await ready;
  return client;
}

/**
 * A real redis-server on 127.0.0.1 and a free port, without persistence. stop() and start()
 * again keep the port (Redis restarts empty); cli() runs redis-cli against it.
 */
export class RedisServer {
  static async start() {
    const port = await new Promise((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address();
        probe.close(() => resolve(free));
      });
    });
    const redis = new RedisServer(port);
    await redis.start();
    return redis;
  }

  constructor(port) {
    this.port = port;
    this.child = null;
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  /** Resolves once it accepts connections (at most 10 s). */
  async start() {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
    running.add(child);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${out}`)), 10000);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) { clearTimeout(timer); resolve(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}):\n${out}`)); });
    });
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  async stop() {
    if (!this.child) return;
    const child = this.child;
    this.child = null;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Runs redis-cli with these arguments; resolves with what it printed. */
  cli(...args) {
    return new Promise((resolve, reject) => {
      const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => { out += chunk; });
      child.once('error', reject);
      child.once('exit', () => resolve(out));
    });
  }
}
