// The published package: `npm pack` packs what the client needs and nothing else, and an empty
// project that installs the tarball (offline: the client has no dependencies) imports
// `@switchboard/client` by its name, through the `exports` map, and uses it against a real node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SwitchboardNode, webClientDir } from './support/helpers.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(path.join(webClientDir, 'package.json'), 'utf8'));

// npm runs in an environment of its own: none of the npm_* variables of the `npm test` that runs
// this file (they would point the child's configuration at web-client/), a cache in the test's
// temporary directory, and no registry: nothing here may need one.
function npm(args, cwd, tmp) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  env.npm_config_cache = path.join(tmp, 'npm-cache');
  env.npm_config_update_notifier = 'false';
  env.npm_config_registry = 'http://127.0.0.1:9/'; // a closed port: a registry request fails at once
  return run('npm', args, { cwd, env, timeout: 60000, maxBuffer: 16 << 20 });
}

// The relative imports of an ES module's source (`from './x.js'`, `import('./x.js')`), resolved
// against its own path inside the package; JSDoc `import('…')` types are left out.
function relativeImports(file, source) {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((s) => path.posix.join(path.posix.dirname(file), s));
}

test('npm pack: the tarball holds the entry point, its types, every module of src/, README and LICENSE, and nothing else', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchboard-pack-'));
  try {
    const { stdout } = await npm(['pack', '--json', '--pack-destination', tmp], webClientDir, tmp);
    const [packed] = JSON.parse(stdout);
    assert.equal(packed.name, '@switchboard/client');
    assert.equal(packed.filename, `switchboard-client-${pkg.version}.tgz`);
    const files = packed.files.map((f) => f.path).sort();
    const modules = readdirSync(path.join(webClientDir, 'src')).filter((f) => f.endsWith('.js')).map((f) => `src/${f}`);
    assert.deepEqual(files, ['LICENSE', 'README.md', 'package.json', 'switchboard.d.ts', 'switchboard.js', ...modules].sort(),
      'no tests, no demo, no node_modules, no configuration of the repository');

    // Every module the entry point reaches is in the tarball.
    const reached = new Set();
    const queue = ['switchboard.js'];
    while (queue.length) {
      const file = queue.shift();
      if (reached.has(file)) continue;
      reached.add(file);
      assert.ok(files.includes(file), `${file}, imported by the package, is packed`);
      queue.push(...relativeImports(file, readFileSync(path.join(webClientDir, file), 'utf8')));
    }
    assert.ok(reached.has('src/index.js') && reached.size > 5, `the entry point's imports were followed: ${[...reached]}`);

    // What the package.json says points at packed files.
    for (const target of [pkg.main, pkg.types, pkg.exports['.'].types, pkg.exports['.'].import, pkg.exports['.'].default]) {
      assert.ok(files.includes(path.posix.normalize(target)), `${target} is packed`);
    }
    assert.equal(pkg.license, 'Apache-2.0');
    assert.equal(pkg.private, undefined, 'publishable');
    assert.equal(await readFile(path.join(webClientDir, 'LICENSE'), 'utf8'),
      await readFile(path.join(webClientDir, '..', 'LICENSE'), 'utf8'), 'web-client/LICENSE is a copy of the repository\'s');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('the tarball installed into an empty project: imported by its name, it connects, subscribes, publishes and receives', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchboard-install-'));
  let node;
  try {
    node = await SwitchboardNode.start();
    const { stdout } = await npm(['pack', '--json', '--pack-destination', tmp], webClientDir, tmp);
    const tarball = path.join(tmp, JSON.parse(stdout)[0].filename);

    const project = path.join(tmp, 'project');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    await npm(['install', '--offline', '--no-audit', '--no-fund', tarball], project, tmp);
    const installed = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8'));
    assert.match(installed.dependencies['@switchboard/client'], /^file:.*switchboard-client-.*\.tgz$/);

    // The application, in the project: `ws` is not one of its dependencies (Node before 22 has
    // no WebSocket of its own), so it is given the web client's, as README.md shows.
    await writeFile(path.join(project, 'app.js'), `
      import Default, { Switchboard, SwitchboardError, Room } from '@switchboard/client';
      const { default: WebSocket } = await import(process.env.WS_MODULE);
      const fail = (why) => { console.error(why); process.exit(1); };
      setTimeout(() => fail('no message within 10 s'), 10000).unref();
      if (Default !== Switchboard || typeof SwitchboardError !== 'function' || typeof Room !== 'function') fail('exports');
      const client = new Switchboard(process.env.NODE_URL, { WebSocket, requestTimeout: 3000 });
      const connected = new Promise((resolve) => client.once('connected', resolve));
      const room = client.subscribe('package:test');
      const subscribed = new Promise((resolve) => room.once('subscribed', resolve));
      const received = new Promise((resolve) => room.once('message', resolve));
      client.connect();
      const { transport } = await connected;
      await subscribed;
      const ack = await room.publish({ text: 'from the package' });
      const message = await received;
      client.disconnect();
      console.log(JSON.stringify({ transport, ack, data: message.data, offset: message.offset,
        resolved: import.meta.resolve('@switchboard/client') }));
    `);
    const wsModule = pathToFileURL(createRequire(import.meta.url).resolve('ws')).href;
    const result = await run(process.execPath, ['app.js'], {
      cwd: project, timeout: 20000, env: { ...process.env, NODE_URL: node.wsUrl, WS_MODULE: wsModule },
    });
    const out = JSON.parse(result.stdout);
    assert.equal(out.transport, 'websocket');
    assert.deepEqual(out.data, { text: 'from the package' });
    assert.equal(out.offset, out.ack.offset);
    assert.equal(out.resolved, pathToFileURL(path.join(project, 'node_modules/@switchboard/client/switchboard.js')).href,
      'resolved through the installed package, not the source tree');

    // The types resolve through the `exports` map, for Node's and bundlers' module resolution.
    await writeFile(path.join(project, 'check.ts'), `
      import { Switchboard, type Room, type SwitchboardError } from '@switchboard/client';
      const client: Switchboard = new Switchboard('wss://example.com/ws', { token: 't' });
      const room: Room<{ text: string }> = client.subscribe<{ text: string }>('a');
      room.on('message', ({ data }) => { const text: string = data.text; void text; });
      export const code = (err: SwitchboardError): string => err.code;
    `);
    const tsc = path.join(webClientDir, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const resolution of [['--module', 'nodenext', '--moduleResolution', 'nodenext'], ['--module', 'esnext', '--moduleResolution', 'bundler']]) {
      await run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--types', '', '--lib', 'es2022,dom',
        ...resolution, 'check.ts'], { cwd: project, timeout: 60000 })
        .catch((err) => assert.fail(`tsc ${resolution.join(' ')}: ${err.stdout}${err.stderr}`));
    }
  } finally {
    await node?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
});
