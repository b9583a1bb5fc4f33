// Fixtures of the checks: real Switchboard nodes and a real redis-server on loopback, plain HTTP
// requests with node:http (so that nothing adds or drops a header), and the OpenAPI description
// with a JSON Schema validator of its schemas. Nothing here imitates the node.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

export const protocolDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = path.resolve(protocolDir, '..');
export const nodeBin = path.resolve(repoDir, process.env.SWITCHBOARD_BIN || 'build/server/switchboard');

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** Resolves when `text()` matches `pattern`, checked on each chunk of `stream`; rejects after `ms`. */
function awaitOutput(stream, text, pattern, ms, what) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(text());
      if (m) { done(); resolve(m); }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`${what}: no ${pattern} in ${ms} ms:\n${text()}`)); }, ms);
    const done = () => { clearTimeout(timer); stream.off('data', check); };
    stream.on('data', check);
    check();
  });
}

/** A running `switchboard` process on 127.0.0.1. */
export class SwitchboardNode {
  /** Starts a node with `args` and resolves once it logged its port. */
  static async start(args = [], { drainDelayMs = 0 } = {}) {
    const argv = ['--bind', '127.0.0.1', '--port', '0', '--log-level', 'info', '--threads', '2',
      '--drain-delay-ms', String(drainDelayMs), '--static-dir', path.join(repoDir, 'web-client'), ...args];
    const child = spawn(nodeBin, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    const node = new SwitchboardNode(child);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => { node.log += chunk; });
    try {
      const exited = node.exited.then(({ code, signal }) => {
        throw new Error(`node exited (${code ?? signal}) before listening:\n${node.log}`);
      });
      const failed = new Promise((_, reject) => {
        child.once('error', (err) => reject(new Error(`cannot start ${nodeBin} (SWITCHBOARD_BIN): ${err.message}`)));
      });
      const m = await Promise.race([
        awaitOutput(child.stderr, () => node.log, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 10000, 'node'), exited, failed]);
      exited.catch(() => {});
      node.port = Number(m[1]);
    } catch (err) {
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

  get url() { return `http://127.0.0.1:${this.port}`; }

  /** Resolves once the node's log matches `pattern`. */
  logged(pattern, ms = 10000) { return awaitOutput(this.child.stderr, () => this.log, pattern, ms, 'node log'); }

  /** SIGTERM (the node drains, closes its connections and exits); SIGKILL after 15 s. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/** A free TCP port on 127.0.0.1 (the OS's pick; released before it is used). */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server on a free loopback port, without persistence. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '',
    '--appendonly', 'no', '--dir', os.tmpdir()], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => { out += chunk; });
  const exited = new Promise((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
  try {
    await awaitOutput(child.stdout, () => out, /Ready to accept connections/, 10000, 'redis-server');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() { child.kill('SIGKILL'); await exited; },
  };
}

/** An HS256 JWT. */
export function signJwt(claims, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * One HTTP request on a connection of its own: resolves with {status, headers, body} (body as
 * text), within 10 s.
 */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Opens a Server-Sent Events stream. Resolves with {status, headers, body} for an answer that is
 * not a stream; for a stream, with {status, headers, events, next(pred), close()} where events
 * are the {id, data} parsed so far and next() waits (10 s at most) for an event matching pred.
 */
export function openStream(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
        return;
      }
      const events = [];
      const waiters = [];
      let buffer = '';
      let ended = false;
      const settle = () => {
        for (const w of [...waiters]) {
          const e = events.find(w.pred);
          if (e || ended) {
            waiters.splice(waiters.indexOf(w), 1);
            clearTimeout(w.timer);
            if (e) w.resolve(e); else w.reject(new Error(`stream ended without the event:\n${JSON.stringify(events)}`));
          }
        }
      };
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { id: undefined, data: undefined, comments: 0 };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) event.comments++;
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
            else throw new Error(`unexpected line in a stream: ${line}`);
          }
          if (event.data !== undefined) events.push(event);
        }
        settle();
      });
      res.on('end', () => { ended = true; settle(); });
      res.on('error', () => { ended = true; settle(); });
      resolve({
        status: res.statusCode,
        headers: res.headers,
        events,
        next(pred) {
          return new Promise((resolveEvent, rejectEvent) => {
            const w = { pred, resolve: resolveEvent, reject: rejectEvent };
            w.timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              rejectEvent(new Error(`no such event in 10 s:\n${JSON.stringify(events)}`));
            }, 10000);
            waiters.push(w);
            settle();
          });
        },
        close() { req.destroy(); },
      });
    });
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The OpenAPI description, parsed. */
export function loadDescription() {
  return YAML.parse(readFileSync(path.join(protocolDir, 'openapi.yaml'), 'utf8'));
}

/** A JSON Schema (2020-12) validator of the description's schemas, addressed by JSON pointer. */
export function schemaValidator(doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'openapi' });
  const compiled = new Map();
  return (pointer, value) => {
    if (!compiled.has(pointer)) compiled.set(pointer, ajv.compile({ $ref: `openapi#${pointer}` }));
    const validate = compiled.get(pointer);
    return validate(value) ? null : ajv.errorsText(validate.errors);
  };
}

/** A JSON pointer's escape of one key. */
export const escapeKey = (key) => String(key).replaceAll('~', '~0').replaceAll('/', '~1');
