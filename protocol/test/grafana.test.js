// deploy/grafana/switchboard.json, the operators' dashboard: importable (a datasource variable,
// a node variable, unique panel ids), every metric its PromQL queries is one that live nodes
// export (a node alone, and a node in a cluster on a real redis-server), with the labels the
// queries use, and every expression parses as PromQL (promtool check rules, when promtool is
// installed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SwitchboardNode, repoDir, request, startRedis } from './support.js';

const dashboardFile = path.join(repoDir, 'deploy/grafana/switchboard.json');
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8'));

// The panels, rows' panels included.
const allPanels = (panels) => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const variables = dashboard.templating.list;
for (const v of variables) {
  if (v.type === 'query') queries.push({ panel: `variable ${v.name}`, expr: v.definition.replace(/^label_values\((.*), *\w+\)$/, '$1') });
}

// PromQL's functions, aggregations and keywords: the identifiers of an expression that are not metrics.
const PROMQL_WORDS = new Set(['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile',
  'count_values', 'group', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless',
  'offset', 'bool', 'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'abs', 'clamp_min',
  'clamp_max', 'vector', 'scalar', 'time', 'label_replace', 'label_join', 'sort', 'sort_desc', 'absent', 'changes',
  'resets', 'round', 'ceil', 'floor', 'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'last_over_time']);

/** The metrics an expression selects, each with the label names it is matched on. */
function selectors(expr) {
  const out = [];
  // Grafana's variables stand for a duration or a regular expression.
  const text = expr.replaceAll('$__rate_interval', '5m').replace(/\$\{?\w+\}?/g, 'x')
    // The labels of `by (…)` and the like name labels, not metrics.
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?|"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\d+(?:\.\d+)?/g;
  for (const [, name, matchers] of text.matchAll(re)) {
    if (!name || PROMQL_WORDS.has(name)) continue;
    const labels = [...(matchers ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]);
    out.push({ name, labels });
  }
  return out;
}

/** The label names an expression groups by (`by (a, b)`). */
const groupings = (expr) => [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()));

/**
 * What a node's /metrics exports: metric name → label names, from its samples and, for families
 * with no sample yet, its TYPE lines (a histogram's _bucket, _sum and _count included).
 */
function exported(text) {
  const metrics = new Map();
  const add = (name, labels = []) => {
    if (!metrics.has(name)) metrics.set(name, new Set());
    for (const l of labels) metrics.get(name).add(l);
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      add(type[1]);
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) add(type[1] + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
    if (sample) add(sample[1], [...(sample[2] ?? '').matchAll(/(\w+)="/g)].map((l) => l[1]));
  }
  return metrics;
}

// Labels a family only has once something was counted (a close, a refused handshake, …): a fresh
// node exports the family without samples. The node's code names them (server/src/observability/Metrics.cpp).
const LABELS_OF_TALLIES = {
  switchboard_closes_total: ['code'],
  switchboard_handshakes_rejected_total: ['reason'],
  switchboard_api_requests_total: ['endpoint', 'status'],
  switchboard_http_publishes_rate_limited_total: ['by'],
  switchboard_http_requests_refused_total: ['route', 'reason'],
};
// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS = ['instance', 'job'];

let redis;
let alone;
let clustered;
let metrics;
before(async () => {
  redis = await startRedis();
  alone = await SwitchboardNode.start(['--allow-anonymous']);
  clustered = await SwitchboardNode.start(['--allow-anonymous', '--redis', redis.url]);
  // A cluster node says its Redis link is up in /metrics (and /readyz) only: ask until it does, 10 s at most.
  let text = '';
  for (let i = 0; i < 100 && !/^switchboard_redis_up 1$/m.test(text); i++) {
    if (i) await new Promise((resolve) => { setTimeout(resolve, 100); });
    text = (await request(`${clustered.url}/metrics`)).body;
  }
  assert.match(text, /^switchboard_redis_up 1$/m, 'the cluster node did not reach Redis in 10 s');
  metrics = exported(`${(await request(`${alone.url}/metrics`)).body}\n${text}`);
});
after(async () => {
  await clustered?.stop();
  await alone?.stop();
  await redis?.stop();
});

test('the dashboard is importable: a datasource variable, a node variable, panels that use them', () => {
  assert.equal(typeof dashboard.title, 'string');
  assert.equal(dashboard.uid, 'switchboard');
  const datasource = variables.find((v) => v.type === 'datasource');
  assert.ok(datasource, 'no datasource variable');
  assert.equal(datasource.query, 'prometheus');
  const instance = variables.find((v) => v.name === 'instance');
  assert.ok(instance?.includeAll && instance.multi, 'no multi-valued instance variable');
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are not unique');
  // Panels within the 24 columns of the grid, none over another.
  const cells = new Map();
  for (const { title, gridPos: { x, y, w, h } } of panels) {
    assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${title}: outside the grid`);
    for (let r = y; r < y + h; r++) {
      for (let c = x; c < x + w; c++) {
        assert.ok(!cells.has(`${r},${c}`), `${title} lies over ${cells.get(`${r},${c}`)}`);
        cells.set(`${r},${c}`, title);
      }
    }
  }
  for (const p of panels) {
    assert.ok(p.gridPos && p.title, `panel ${p.id}: no gridPos or title`);
    if (p.type === 'row') continue;
    assert.ok(p.targets?.length, `${p.title}: no query`);
    for (const t of [p, ...p.targets]) assert.equal(t.datasource?.uid, `\${${datasource.name}}`, `${p.title}: datasource`);
    for (const t of p.targets) assert.match(t.expr, /instance=~"\$instance"/, `${p.title}: ${t.expr} ignores the node variable`);
  }
});

test('every metric the dashboard queries is exported by a node, with the labels it uses', () => {
  assert.ok(metrics.has('switchboard_redis_up') && metrics.has('switchboard_history_bytes'));
  const queried = new Set();
  for (const { panel, expr } of queries) {
    const found = selectors(expr);
    assert.ok(found.length, `${panel}: no metric in ${expr}`);
    for (const { name, labels } of found) {
      queried.add(name);
      assert.ok(metrics.has(name), `${panel}: ${name} is not exported by a node (${expr})`);
      const known = new Set([...metrics.get(name), ...(LABELS_OF_TALLIES[name] ?? []), ...TARGET_LABELS, 'le']);
      for (const label of labels) assert.ok(known.has(label), `${panel}: ${name} has no label ${label} (${expr})`);
      for (const label of groupings(expr)) {
        assert.ok(found.some((s) => new Set([...metrics.get(s.name), ...(LABELS_OF_TALLIES[s.name] ?? []), ...TARGET_LABELS, 'le']).has(label)),
          `${panel}: no metric of ${expr} has the label ${label}`);
      }
    }
  }
  // What an operator watches is on the dashboard.
  for (const name of ['switchboard_connections', 'switchboard_subscriptions', 'switchboard_messages_published_total',
    'switchboard_deliveries_total', 'switchboard_publish_seconds_bucket', 'switchboard_delivery_seconds_bucket',
    'switchboard_slow_consumers_total', 'switchboard_closes_total', 'switchboard_deliveries_dropped_total',
    'switchboard_handshakes_rejected_total', 'switchboard_redis_up', 'switchboard_redis_reconnects_total',
    'switchboard_http_publishes_rate_limited_total']) {
    assert.ok(queried.has(name), `the dashboard does not show ${name}`);
  }
});

test('every expression parses as PromQL (promtool check rules)', (t) => {
  if (spawnSync('promtool', ['--version']).error) {
    t.skip('promtool is not installed');
    return;
  }
  // Each expression as a recording rule, Grafana's variables replaced by what they stand for.
  const rules = queries.map(({ expr }, i) => ({
    record: `dashboard:query_${i}`,
    expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'),
  }));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-dashboard-'));
  try {
    const file = path.join(dir, 'rules.json');
    // JSON is YAML: promtool reads it as a rules file.
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 30000 });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
