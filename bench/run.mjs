#!/usr/bin/env node
/**
 * The benchmark suite: `npm run bench` (full: 3 runs per scenario per target, medians; about
 * 16 minutes on 2 shared cores) or `npm run bench -- --quick` (smoke run: small counts, 1 run;
 * about 2 minutes, for checking that every target runs, not for comparing numbers).
 *
 *   --only stelar-ws,ws-app    targets to run (stelar-tcp, stelar-ws: StelarClient; stelar-tcp-floor,
 *                              stelar-ws-floor: the raw transport floor; ws-app, ws-bare, socket.io,
 *                              uws-app, uws-bare, stelar-mixed; see bench/lib/targets.mjs)
 *   --scenario broadcast,echo  scenarios (idle, echo, broadcast, throughput, mixed, hostile (opt-in); or a case id like echo-50)
 *   --runs N                   runs per scenario per target (default 3, quick 1)
 *   --stelar-dist DIR          load stelar, server AND client (StelarClient, the floor's codec),
 *                              from another build (e.g. /tmp/base/dist), for before/after
 *   --cpu-prof                 run each server under `node --cpu-prof` (files in bench/profiles/)
 *   --heap-snapshot            idle scenario: server heap snapshots before/after connecting (bench/profiles/)
 *   --out FILE                 where the markdown goes (default: bench/RESULTS.md for a full
 *                              unfiltered run, bench/RESULTS.last.md otherwise)
 *
 * Each run prints one JSON line; the medians tables and a summary of each scenario's headline
 * number are printed at the end and written out.
 * Servers and load generators are separate processes on 127.0.0.1 (see lib/session.mjs).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import broadcast, { mixed } from './scenarios/broadcast.mjs';
import echo from './scenarios/echo.mjs';
import hostile from './scenarios/hostile.mjs';
import idle from './scenarios/idle.mjs';
import throughput from './scenarios/throughput.mjs';
import { withSession, sessionOptions } from './lib/session.mjs';
import { median, round } from './lib/stats.mjs';
import { checkTarget, ROOT, stelarDist, TARGETS } from './lib/targets.mjs';
import { renderMarkdown } from './lib/report.mjs';

const CASES = [idle, ...echo, broadcast, throughput, mixed, ...hostile];
const DEFAULT_TARGETS = ['stelar-tcp', 'stelar-ws', 'stelar-tcp-floor', 'stelar-ws-floor', 'ws-app', 'ws-bare', 'socket.io', 'uws-app', 'uws-bare'];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    scenario: { type: 'string' },
    runs: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
    out: { type: 'string' },
    'stelar-dist': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (flags.help) {
  console.log(
    'usage: node bench/run.mjs [--quick] [--only t1,t2] [--scenario s1,s2] [--runs N] [--stelar-dist DIR] [--cpu-prof] [--heap-snapshot] [--out FILE]',
  );
  process.exit(0);
}

const list = (s) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : null;
const onlyTargets = list(flags.only);
const onlyScenarios = list(flags.scenario);
const runs = flags.runs ? Number(flags.runs) : flags.quick ? 1 : 3;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
for (const t of onlyTargets ?? []) if (!TARGETS[t]) throw new Error(`unknown target ${t} (known: ${Object.keys(TARGETS).join(', ')})`);
// Read by bench/lib/targets.mjs stelarDist() here and in every child (they inherit the env).
if (flags['stelar-dist']) process.env.STELAR_DIST = flags['stelar-dist'];
sessionOptions.cpuProf = flags['cpu-prof'];
sessionOptions.heapSnapshot = flags['heap-snapshot'];
if (sessionOptions.cpuProf || sessionOptions.heapSnapshot) mkdirSync(sessionOptions.profDir, { recursive: true });

function fdLimit() {
  try {
    const out = execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim();
    return out === 'unlimited' ? 1_000_000 : Number(out);
  } catch {
    return 1024;
  }
}

const env = {
  date: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  loadAvgAtStart: os.loadavg().map((x) => round(x, 2)),
  fdLimit: fdLimit(),
  mode: flags.quick ? 'quick' : 'full',
  runs,
  cpuProf: sessionOptions.cpuProf,
  stelarDist: relative(process.cwd(), stelarDist()) || '.',
};

// Opt-in cases (hostile) run only when named: they would push the full run past its budget.
const selected = CASES.filter((c) => (onlyScenarios ? onlyScenarios.includes(c.id) || onlyScenarios.includes(c.group) : !c.optIn));
if (selected.length === 0) throw new Error(`no scenario matches ${flags.scenario}`);

console.error(
  `# bench: ${env.mode} mode, ${runs} run(s), ${env.cpus} cores, ulimit -n ${env.fdLimit}, load ${env.loadAvgAtStart.join(' ')}, stelar (server and client) from ${env.stelarDist}`,
);

const availability = {};
async function available(target) {
  availability[target] ??= await checkTarget(target);
  return availability[target];
}

const results = []; // { caseId, target, status: 'ok'|'fail'|'skip', runs: [metrics], errors: [], reason }
const started = Date.now();
for (const c of selected) {
  const base = c.targets ?? DEFAULT_TARGETS;
  // Experimental targets run only when named, in every scenario that takes one target's clients.
  const experiments = c.id === 'mixed' ? [] : (onlyTargets ?? []).filter((t) => TARGETS[t].experimental && !base.includes(t));
  const targets = [...base, ...experiments].filter(
    (t) => !onlyTargets || onlyTargets.includes(t) || (t === 'stelar-mixed' && onlyTargets.some((x) => x === 'stelar-ws' || x === 'stelar-tcp')),
  );
  const params = c.params(flags.quick, { fdLimit: env.fdLimit });
  if (params.reduced) console.error(`# ${c.id}: reduced to ${params.connections} connections (${params.reduced})`);
  for (const target of targets) {
    const entry = { caseId: c.id, target, runs: [], errors: [], status: 'ok', reason: null };
    results.push(entry);
    const avail = await available(target);
    if (!avail.ok) {
      entry.status = 'skip';
      entry.reason = avail.reason;
      console.log(JSON.stringify({ scenario: c.id, target, skipped: true, reason: avail.reason }));
      continue;
    }
    for (let run = 1; run <= runs; run++) {
      const label = `${c.id}.${target}.run${run}`;
      const t0 = Date.now();
      try {
        const metrics = await withSession(target, { timeoutMs: flags.quick ? 60_000 : 180_000, label, serverOptions: c.serverOptions }, (s) =>
          c.run(s, params),
        );
        entry.runs.push(metrics);
        console.log(JSON.stringify({ scenario: c.id, target, run, ok: true, ...roundAll(metrics), wallMs: Date.now() - t0 }));
      } catch (err) {
        entry.errors.push(String(err.message).split('\n')[0]);
        console.log(JSON.stringify({ scenario: c.id, target, run, ok: false, error: String(err.message).split('\n')[0], wallMs: Date.now() - t0 }));
      }
    }
    if (entry.errors.length) entry.status = 'fail';
  }
}

function roundAll(metrics) {
  const out = {};
  for (const [k, v] of Object.entries(metrics)) out[k] = typeof v === 'number' ? round(v, 3) : v;
  return out;
}

/** Medians per case and target, for the table and the target checks. */
const medians = {};
for (const r of results) {
  const c = CASES.find((x) => x.id === r.caseId);
  const m = {};
  for (const col of c.columns) {
    const vals = r.runs.map((x) => x[col.key]);
    // Strings (e.g. hostile's "stayed connected"): every distinct value, so one bad run shows.
    m[col.key] = typeof vals[0] === 'string' ? [...new Set(vals)].join(' / ') : median(vals);
  }
  (medians[r.caseId] ??= {})[r.target] = m;
}

env.totalSeconds = Math.round((Date.now() - started) / 1000);
env.loadAvgAtEnd = os.loadavg().map((x) => round(x, 2));
const markdown = renderMarkdown({
  env,
  cases: selected,
  results,
  medians,
  params: Object.fromEntries(selected.map((c) => [c.id, c.params(flags.quick, { fdLimit: env.fdLimit })])),
});
console.log('\n' + markdown);

const fullRun = !flags.quick && !onlyTargets && !onlyScenarios && runs >= 3;
const outFile = flags.out ?? join(ROOT, 'bench', fullRun ? 'RESULTS.md' : 'RESULTS.last.md');
writeFileSync(outFile, markdown);
console.error(`# written to ${relative(process.cwd(), outFile)} (${env.totalSeconds} s)`);
process.exitCode = results.some((r) => r.status === 'fail') ? 1 : 0;
