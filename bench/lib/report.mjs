/**
 * The markdown report: environment, one medians table per scenario (each row says what
 * drives it), a summary of each scenario's headline number with the targets side by side,
 * and the ratios the targets of issue 14 are stated in, each with its target and pass/fail.
 */
import { fmt } from './stats.mjs';
import { TARGETS } from './targets.mjs';

const TARGET_ORDER = [
  'stelar-tcp',
  'stelar-ws',
  'stelar-mixed',
  'stelar-tcp-floor',
  'stelar-ws-floor',
  'stelar-tcp+cork',
  'stelar-ws+cork',
  'ws-app',
  'ws-bare',
  'socket.io',
  'uws-app',
  'uws-bare',
];

function table(c, results, medians) {
  const rows = results.filter((r) => r.caseId === c.id).sort((a, b) => TARGET_ORDER.indexOf(a.target) - TARGET_ORDER.indexOf(b.target));
  const head = ['target', 'what runs', ...c.columns.map((col) => col.label), 'runs'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const what = TARGETS[r.target]?.label ?? '';
    if (r.status === 'skip') {
      lines.push(`| ${r.target} | ${what} | ${c.columns.map(() => '–').join(' | ')} | skipped: ${r.reason} |`);
      continue;
    }
    const m = medians[c.id][r.target];
    const cells = c.columns.map((col) => (r.runs.length ? fmt(m[col.key], col.digits) : '–'));
    const runsCell = r.errors.length
      ? `**FAIL** ${r.errors.length}/${r.errors.length + r.runs.length}: ${r.errors[0].replace(/\|/g, '/')}`
      : String(r.runs.length);
    lines.push(`| ${r.target} | ${what} | ${cells.join(' | ')} | ${runsCell} |`);
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

/**
 * The summary: one row per headline number, the targets side by side, the best value in bold.
 * Each row: [scenario id, what is measured, column key, 'lower' | 'higher' is better, digits].
 */
const SUMMARY_ROWS = [
  ['idle', 'memory per idle connection, heap + external (KB)', 'retainedPerConnKB', 'lower', 2],
  ['idle', 'time to open all idle connections (ms)', 'openMs', 'lower', 0],
  ['echo-1', 'request/response round trip, 1 client, p99 (µs)', 'p99Us', 'lower', 0],
  ['echo-50', 'request/response round trip, 50 clients, p99 (µs)', 'p99Us', 'lower', 0],
  ['echo-1', 'request/response, 1 client, server CPU per round trip (µs)', 'cpuPerRoundTripUs', 'lower', 2],
  ['echo-1', 'request/response, 1 client, client CPU per round trip (µs)', 'clientCpuPerRoundTripUs', 'lower', 2],
  ['broadcast', 'broadcast to one room, deliveries per second', 'deliveriesPerSec', 'higher', 0],
  ['broadcast', 'broadcast, server CPU per delivery (µs)', 'cpuPerDeliveryUs', 'lower', 3],
  ['throughput', 'events received, server CPU per message (µs)', 'cpuPerMsgUs', 'lower', 3],
  ['throughput', 'events sent, client CPU per message (µs)', 'genCpuPerMsgUs', 'lower', 3],
];
const SUMMARY_TARGETS = ['stelar-tcp', 'stelar-ws', 'stelar-tcp-floor', 'stelar-ws-floor', 'ws-app', 'ws-bare', 'socket.io', 'uws-app', 'uws-bare'];

function summary(cases, medians) {
  const ran = new Set(cases.map((c) => c.id));
  const rows = SUMMARY_ROWS.filter(([caseId]) => ran.has(caseId));
  const targets = SUMMARY_TARGETS.filter((t) => rows.some(([caseId, , key]) => typeof medians[caseId]?.[t]?.[key] === 'number'));
  if (rows.length === 0 || targets.length === 0) return null;
  const lines = [`| measured | better | ${targets.join(' | ')} |`, `|---|---|${targets.map(() => '---:').join('|')}|`];
  for (const [caseId, label, key, better, digits] of rows) {
    const values = targets.map((t) => medians[caseId]?.[t]?.[key]);
    const numbers = values.filter((v) => typeof v === 'number');
    const best = numbers.length ? (better === 'lower' ? Math.min(...numbers) : Math.max(...numbers)) : null;
    const cells = values.map((v) => (typeof v !== 'number' ? '–' : v === best ? `**${fmt(v, digits)}**` : fmt(v, digits)));
    lines.push(`| ${label} | ${better} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The ratios the targets are stated in: [scenario, what, column key, reference target, target
 * ratio or null (informative)]. Each is computed for StelarClient over WebSocket and over TCP.
 * All of these are "lower is better", so a ratio at or below the target passes.
 */
const RATIO_ROWS = [
  ['throughput', 'client CPU per message sent, vs the ws client (ws-app generator)', 'genCpuPerMsgUs', 'ws-app', 1.3],
  ['throughput', 'server CPU per inbound message, vs ws-app', 'cpuPerMsgUs', 'ws-app', 1.2],
  ['echo-1', 'server CPU per ACK round trip, 1 client, vs ws-app echo', 'cpuPerRoundTripUs', 'ws-app', null],
  ['echo-50', 'server CPU per ACK round trip, 50 clients, vs ws-app echo', 'cpuPerRoundTripUs', 'ws-app', null],
  ['echo-1', 'client CPU per round trip, 1 client, vs the ws client', 'clientCpuPerRoundTripUs', 'ws-app', null],
  ['idle', 'time to open the idle connections, vs ws clients to a ws server', 'openMs', 'ws-app', 1.0],
  ['broadcast', 'fan-out server CPU per delivery, vs uWS', 'cpuPerDeliveryUs', 'uws-app', 1.2],
];
/** Absolute targets: [scenario, what, key, limit, unit]. */
const LIMIT_ROWS = [['idle', 'memory retained per idle connection (heap + external)', 'retainedPerConnKB', 3, 'KB']];
/** Rows where TCP and WebSocket StelarClients are compared: [scenario, what, key, 'lower' | 'higher'], digits. */
const TCP_VS_WS_ROWS = [
  ['idle', 'memory per idle connection (KB)', 'retainedPerConnKB', 'lower', 2],
  ['idle', 'time to open the idle connections (ms)', 'openMs', 'lower', 0],
  ['echo-1', 'round trip p50, 1 client (µs)', 'p50Us', 'lower', 0],
  ['echo-1', 'server CPU per round trip, 1 client (µs)', 'cpuPerRoundTripUs', 'lower', 2],
  ['echo-50', 'round trips per second, 50 clients', 'roundTripsPerSec', 'higher', 0],
  ['echo-50', 'server CPU per round trip, 50 clients (µs)', 'cpuPerRoundTripUs', 'lower', 2],
  ['broadcast', 'deliveries per second', 'deliveriesPerSec', 'higher', 0],
  ['broadcast', 'server CPU per delivery (µs)', 'cpuPerDeliveryUs', 'lower', 3],
  ['throughput', 'server-received messages per second', 'msgsPerSec', 'higher', 0],
  ['throughput', 'server CPU per message (µs)', 'cpuPerMsgUs', 'lower', 3],
  ['throughput', 'client CPU per message (µs)', 'genCpuPerMsgUs', 'lower', 3],
];

const num = (v) => typeof v === 'number' && Number.isFinite(v);

/** The ratio and absolute targets with pass/fail, and TCP vs WebSocket; null when nothing applies. */
function targetChecks(cases, medians) {
  const ran = new Set(cases.map((c) => c.id));
  const lines = ['| measured | stelar row | value | reference | ratio | target | result |', '|---|---|---:|---:|---:|---:|---|'];
  let any = false;
  for (const [caseId, label, key, ref, target] of RATIO_ROWS) {
    if (!ran.has(caseId)) continue;
    const refValue = medians[caseId]?.[ref]?.[key];
    for (const t of ['stelar-ws', 'stelar-tcp']) {
      const value = medians[caseId]?.[t]?.[key];
      if (!num(value) && !num(refValue)) continue;
      any = true;
      const ratio = num(value) && num(refValue) && refValue > 0 ? value / refValue : null;
      const result = ratio === null ? `– (${num(value) ? ref : t} did not run)` : target === null ? 'informative' : ratio <= target ? 'pass' : '**miss**';
      lines.push(
        `| ${label} | ${t} | ${fmt(value, 3)} | ${ref} ${fmt(refValue, 3)} | ${ratio === null ? '–' : `${fmt(ratio, 2)}x`} | ${target === null ? '–' : `≤ ${fmt(target, 1)}x`} | ${result} |`,
      );
    }
  }
  for (const [caseId, label, key, limit, unit] of LIMIT_ROWS) {
    if (!ran.has(caseId)) continue;
    for (const t of ['stelar-ws', 'stelar-tcp']) {
      const value = medians[caseId]?.[t]?.[key];
      if (!num(value)) continue;
      any = true;
      lines.push(`| ${label} | ${t} | ${fmt(value, 2)} ${unit} | – | – | ≤ ${limit} ${unit} | ${value <= limit ? 'pass' : '**miss**'} |`);
    }
  }
  if (!any) return null;
  const tcp = ['| measured (StelarClient) | better | WebSocket | TCP | TCP beats WS |', '|---|---|---:|---:|---|'];
  for (const [caseId, label, key, better, digits] of TCP_VS_WS_ROWS) {
    const ws = medians[caseId]?.['stelar-ws']?.[key];
    const tc = medians[caseId]?.['stelar-tcp']?.[key];
    if (!ran.has(caseId) || !num(ws) || !num(tc)) continue;
    const wins = better === 'lower' ? tc < ws : tc > ws;
    tcp.push(`| ${caseId}: ${label} | ${better} | ${fmt(ws, digits)} | ${fmt(tc, digits)} | ${wins ? 'yes' : '**no**'} |`);
  }
  return [
    '### Targets',
    '',
    'StelarClient rows against the reference the target names (medians from the tables above). A ratio is ' +
      'stelar / reference, lower is better; "miss" is informative only, the bench never fails on it.',
    '',
    ...lines,
    ...(tcp.length > 2 ? ['', '### TCP vs WebSocket (StelarClient rows)', '', ...tcp] : []),
  ].join('\n');
}

/** The "## Summary" section (markdown), or null when no scenario with a headline number ran. */
export function renderSummary(mode, cases, medians) {
  const summaryTable = summary(cases, medians);
  if (!summaryTable) return null;
  const checks = targetChecks(cases, medians);
  return [
    '## Summary',
    '',
    'The headline number of each scenario, taken from the tables above; the best value of each row is in bold. ' +
      'On a machine with few cores the rates depend on the load generator as much as on the server, so compare the ' +
      'CPU and memory rows first.' +
      (mode === 'quick'
        ? ' This was a quick run (small counts, one run each): it shows that every target works, and its numbers are ' +
          'not fit for comparison. Run `npm run bench` for those.'
        : ''),
    '',
    summaryTable,
    ...(checks ? ['', checks] : []),
  ].join('\n');
}

export function renderMarkdown({ env, cases, results, medians, params }) {
  const out = [];
  out.push('# Benchmark results');
  out.push('');
  out.push(
    `${env.mode === 'full' ? 'Full run' : 'Quick (smoke) run'}, ${env.runs} run(s) per scenario per target, medians. ` +
      `${env.date}, Node ${env.node}, ${env.platform}, ${env.cpus} cores (${env.cpuModel}), ulimit -n ${env.fdLimit}, ` +
      `load average ${env.loadAvgAtStart.join(' / ')} at start and ${env.loadAvgAtEnd.join(' / ')} at end, ${env.totalSeconds} s in all. ` +
      `Stelar server and client from \`${env.stelarDist}\`.`,
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
  const summaryLines = renderSummary(env.mode, cases, medians);
  if (summaryLines) out.push('', summaryLines);
  const skipped = results.filter((r) => r.status === 'skip');
  if (skipped.length) {
    out.push('');
    out.push('Skipped: ' + [...new Set(skipped.map((r) => `${r.target} (${r.reason})`))].join('; ') + '.');
  }
  out.push('');
  return out.join('\n');
}
