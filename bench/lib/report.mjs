/**
 * The markdown report: environment, one medians table per scenario, and the issue's
 * targets checked against the medians of the same run.
 */
import { fmt } from './stats.mjs';

const TARGET_ORDER = [
  'stelar-tcp',
  'stelar-ws',
  'stelar-mixed',
  'stelar-tcp+cork',
  'stelar-ws+cork',
  'stelar-client-tcp',
  'stelar-client-ws',
  'ws',
  'socket.io',
  'uws',
];

function table(c, results, medians) {
  const rows = results.filter((r) => r.caseId === c.id).sort((a, b) => TARGET_ORDER.indexOf(a.target) - TARGET_ORDER.indexOf(b.target));
  const head = ['target', ...c.columns.map((col) => col.label), 'runs'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    if (r.status === 'skip') {
      lines.push(`| ${r.target} | ${c.columns.map(() => '–').join(' | ')} | skipped: ${r.reason} |`);
      continue;
    }
    const m = medians[c.id][r.target];
    const cells = c.columns.map((col) => (r.runs.length ? fmt(m[col.key], col.digits) : '–'));
    const runsCell = r.errors.length
      ? `**FAIL** ${r.errors.length}/${r.errors.length + r.runs.length}: ${r.errors[0].replace(/\|/g, '/')}`
      : String(r.runs.length);
    lines.push(`| ${r.target} | ${cells.join(' | ')} | ${runsCell} |`);
  }
  return lines.join('\n');
}

/** The hostile cases in one table: one row per attack (they all run against one stelar target). */
function hostileTable(env, cases, results, medians, params) {
  const p = params[cases[0].id];
  const lines = [
    '## Hostile clients (`hostile`)',
    '',
    `One StelarServer (WebSocket + TCP, library defaults except maxConnectionsPerIP) from \`${env.stelarDist}\`; each attack runs ` +
      `${p.durationMs / 1000} s from its own process while a healthy StelarClient (${p.healthyMode}) does sequential ACK round trips, ` +
      `one every ${p.healthyIntervalMs} ms at most. Latency and server max memory (sampled every 25 ms, no GC), CPU and ` +
      'worst event-loop delay are taken during the attack; "after" is 1 s after it ended, after forced GC.',
    '',
  ];
  const cols = cases[0].columns;
  const head = ['attack', ...cols.map((col) => col.label), 'runs'];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const c of cases) {
    for (const r of results.filter((x) => x.caseId === c.id)) {
      const name = c.id.replace(/^hostile-/, '');
      if (r.status === 'skip') {
        lines.push(`| ${name} | ${cols.map(() => '–').join(' | ')} | skipped: ${r.reason} |`);
        continue;
      }
      const m = medians[c.id][r.target];
      const cells = cols.map((col) => (r.runs.length ? fmt(m[col.key], col.digits) : '–'));
      const runsCell = r.errors.length
        ? `**FAIL** ${r.errors.length}/${r.errors.length + r.runs.length}: ${r.errors[0].replace(/\|/g, '/').slice(0, 160)}`
        : String(r.runs.length);
      lines.push(`| ${name} | ${cells.join(' | ')} | ${runsCell} |`);
    }
  }
  lines.push('', 'Attacks: ' + cases.map((c) => `**${c.id.replace(/^hostile-/, '')}**: ${c.title.replace(/^Hostile: /, '')}`).join('; ') + '.');
  return lines.join('\n');
}

/** Each check: [label, value, goal, pass | null when a number is missing]. */
function targetChecks(medians) {
  const get = (caseId, target, key) => medians[caseId]?.[target]?.[key] ?? null;
  const checks = [];
  const add = (label, value, goal, pass, digits = 2) =>
    checks.push({ label, value: value === null ? '–' : fmt(value, digits), goal, pass: value === null ? null : pass });
  const stelars = ['stelar-ws', 'stelar-tcp'];
  const sio = get('broadcast', 'socket.io', 'deliveriesPerSec');
  for (const t of stelars) {
    const d = get('broadcast', t, 'deliveriesPerSec');
    add(
      `broadcast deliveries/s, ${t}`,
      d,
      sio === null ? '>= 3x socket.io (n/a)' : `>= ${fmt(3 * sio)} (3x socket.io)`,
      d !== null && sio !== null && d >= 3 * sio,
      0,
    );
    const cpu = get('broadcast', t, 'cpuPerDeliveryUs');
    add(`broadcast server CPU/delivery (µs), ${t}`, cpu, '<= 2', cpu !== null && cpu <= 2, 3);
  }
  for (const t of stelars) {
    const kb = get('idle', t, 'retainedPerConnKB');
    const n = get('idle', t, 'connections');
    add(
      `idle heap+external/conn (KB), ${t}`,
      kb,
      `<= 3 at 10,000 connections${n !== null && n < 10_000 ? ` (ran ${fmt(n)})` : ''}`,
      kb !== null && kb <= 3 && n >= 10_000,
    );
  }
  for (const caseId of ['echo-1', 'echo-50']) {
    const ws = get(caseId, 'ws', 'p99Us');
    for (const t of stelars) {
      const p99 = get(caseId, t, 'p99Us');
      add(`${caseId} p99 (µs), ${t}`, p99, ws === null ? '<= ws (n/a)' : `<= ${fmt(ws)} (ws)`, p99 !== null && ws !== null && p99 <= ws, 0);
    }
  }
  const wsCpu = get('throughput', 'ws', 'cpuPerMsgUs');
  for (const t of stelars) {
    const cpu = get('throughput', t, 'cpuPerMsgUs');
    add(
      `throughput server CPU/msg (µs), ${t}`,
      cpu,
      wsCpu === null ? '<= ws (n/a)' : `<= ${fmt(wsCpu, 3)} (ws)`,
      cpu !== null && wsCpu !== null && cpu <= wsCpu,
      3,
    );
  }
  // TCP ahead of WebSocket: the headline metric of each scenario.
  const headline = [
    ['idle', 'retainedPerConnKB', 'lower'],
    ['echo-1', 'p99Us', 'lower'],
    ['echo-50', 'p99Us', 'lower'],
    ['broadcast', 'deliveriesPerSec', 'higher'],
    ['broadcast', 'cpuPerDeliveryUs', 'lower'],
    ['throughput', 'msgsPerSec', 'higher'],
    ['throughput', 'cpuPerMsgUs', 'lower'],
  ];
  for (const [caseId, key, better] of headline) {
    const tcp = get(caseId, 'stelar-tcp', key);
    const ws = get(caseId, 'stelar-ws', key);
    const pass = tcp !== null && ws !== null && (better === 'lower' ? tcp <= ws : tcp >= ws);
    const digits = Math.abs(ws ?? tcp ?? 0) >= 100 ? 0 : 3;
    add(
      `TCP ahead of WS: ${caseId} ${key}`,
      tcp,
      ws === null ? `${better} than stelar-ws (n/a)` : `${better} than ${fmt(ws, digits)} (stelar-ws)`,
      pass,
      digits,
    );
  }
  return checks;
}

export function renderMarkdown({ env, cases, results, medians, params }) {
  const out = [];
  out.push('# Benchmark results');
  out.push('');
  out.push(
    `${env.mode === 'full' ? 'Full run' : 'Quick (smoke) run'}, ${env.runs} run(s) per scenario per target, medians. ` +
      `${env.date}, Node ${env.node}, ${env.platform}, ${env.cpus} cores (${env.cpuModel}), ulimit -n ${env.fdLimit}, ` +
      `load average ${env.loadAvgAtStart.join(' / ')} at start and ${env.loadAvgAtEnd.join(' / ')} at end, ${env.totalSeconds} s in all. ` +
      `Stelar server from \`${env.stelarDist}\`.`,
  );
  out.push('');
  out.push(
    'Every server runs in its own process (started with `--expose-gc`), every load generator in another, all on 127.0.0.1. ' +
      'Server CPU is `process.cpuUsage()` (user + system) inside the server process around the measured window; memory is ' +
      '`process.memoryUsage()` after forced GC, minus the baseline taken before the first connection. ' +
      'On a 2-core machine the server and the generator share the cores, so rates are often bounded by the generator: ' +
      'the server CPU per message is the number that compares implementations. ' +
      'If the load average above is well over 0, other work was running and the numbers are indicative only.',
  );
  if (Math.max(...env.loadAvgAtStart, ...env.loadAvgAtEnd) > 0.5) {
    out.push('');
    out.push('**Taken while other work was running on the machine (load average above 0.5): the numbers are indicative.**');
  }
  out.push('');
  out.push('Run it: `npm run bench` (this table), `npm run bench -- --quick` (smoke run). See bench/README.md.');
  for (const c of cases) {
    if (c.group === 'hostile') continue;
    out.push('');
    out.push(`## ${c.title} (\`${c.id}\`)`);
    out.push('');
    const p = params[c.id];
    out.push(
      `Parameters: ${Object.entries(p)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    out.push('');
    out.push(table(c, results, medians));
  }
  const hostile = cases.filter((c) => c.group === 'hostile');
  if (hostile.length) out.push('', hostileTable(env, hostile, results, medians, params));
  if (hostile.length === cases.length) {
    out.push('');
    return out.join('\n');
  }
  const checks = targetChecks(medians);
  out.push('');
  out.push('## Targets from issue 5 (medians above)');
  out.push('');
  out.push('| target | measured | goal | met |');
  out.push('|---|---:|---|---|');
  for (const c of checks) out.push(`| ${c.label} | ${c.value} | ${c.goal} | ${c.pass === null ? 'n/a' : c.pass ? 'yes' : '**no**'} |`);
  const skipped = results.filter((r) => r.status === 'skip');
  if (skipped.length) {
    out.push('');
    out.push('Skipped: ' + [...new Set(skipped.map((r) => `${r.target} (${r.reason})`))].join('; ') + '.');
  }
  out.push('');
  return out.join('\n');
}
