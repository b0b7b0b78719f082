/**
 * Server process entry: `node --expose-gc bench/servers/host.mjs <module>`.
 * Loads one target (bench/servers/<module>.mjs), starts it on 127.0.0.1, and answers the
 * orchestrator over IPC: memory after GC, CPU deltas around a measured window, and the
 * broadcast loop. Everything measured here is measured inside the server process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { nowMs, serveIpc } from '../lib/proc.mjs';
import { BROADCAST_TEXT, ROOM } from '../lib/payloads.mjs';

const moduleName = process.argv[2];
if (!/^[a-z0-9-]+$/.test(moduleName ?? '')) {
  console.error(`host.mjs: bad server module ${moduleName}`);
  process.exit(2);
}

let target = null;
let window = null;
let received = 0;
let marks = null;
let countResult = null;
let sampler = null;

/** One memory sample without GC: what the process holds right now. */
function sampleNow(s) {
  const m = process.memoryUsage();
  s.maxRss = Math.max(s.maxRss, m.rss);
  s.maxHeapExt = Math.max(s.maxHeapExt, m.heapUsed + m.external);
  s.samples++;
}

/**
 * Called by every target for each event it receives (the throughput scenario). The
 * measured window is cut here, in the message path, by message count: a saturated server
 * answers IPC late (one loop turn can take seconds while big reads drain), so a window
 * timed by IPC or by timers would not be the window that was measured.
 */
function count() {
  received++;
  if (marks !== null && (received === marks.startAt || received === marks.stopAt)) markReached();
}

function markReached() {
  if (received === marks.startAt) {
    marks.start = { cpu: process.cpuUsage(), t: nowMs() };
    return;
  }
  const cpu = process.cpuUsage(marks.start.cpu);
  marks.resolve({
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    cpuUs: cpu.user + cpu.system,
    received: marks.stopAt - marks.startAt,
    ms: nowMs() - marks.start.t,
  });
  marks = null;
}

async function fullGc() {
  if (typeof global.gc !== 'function') throw new Error('start the server with --expose-gc');
  // Several passes with turns in between: finalizers and weak callbacks free native memory late.
  for (let i = 0; i < 4; i++) {
    global.gc();
    await tick();
  }
}

serveIpc(
  {
    async start(options) {
      const mod = await import(`./${moduleName}.mjs`);
      target = await mod.start({ ...options, count });
      return { ports: target.ports };
    },
    async mem() {
      await fullGc();
      const m = process.memoryUsage();
      return {
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        connections: target?.connections?.() ?? null,
      };
    },
    async heapSnapshot({ file }) {
      await fullGc();
      return { file: writeHeapSnapshot(file) };
    },
    info() {
      return { connections: target?.connections?.() ?? null, received, roomSize: target?.roomSize?.(ROOM) ?? null };
    },
    windowStart() {
      window = { cpu: process.cpuUsage(), received, t: nowMs() };
      return { t: window.t };
    },
    windowStop() {
      if (!window) throw new Error('windowStop without windowStart');
      const cpu = process.cpuUsage(window.cpu);
      const result = {
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        cpuUs: cpu.user + cpu.system,
        received: received - window.received,
        ms: nowMs() - window.t,
      };
      window = null;
      return result;
    },
    /**
     * Starts sampling memory (no forced GC) every `intervalMs`, CPU and event-loop delay,
     * for the hostile scenario. A blocked loop takes no samples: the loop delay shows it.
     */
    sampleStart({ intervalMs = 25 } = {}) {
      if (sampler) clearInterval(sampler.timer);
      const eld = monitorEventLoopDelay({ resolution: 10 });
      eld.enable();
      const s = { maxRss: 0, maxHeapExt: 0, samples: 0, cpu: process.cpuUsage(), t: nowMs(), eld, timer: null };
      s.timer = setInterval(() => sampleNow(s), intervalMs);
      sampleNow(s);
      sampler = s;
      return { t: s.t };
    },
    sampleStop() {
      const s = sampler;
      if (!s) throw new Error('sampleStop without sampleStart');
      sampler = null;
      clearInterval(s.timer);
      sampleNow(s);
      s.eld.disable();
      const cpu = process.cpuUsage(s.cpu);
      const ms = nowMs() - s.t;
      return {
        maxRss: s.maxRss,
        maxHeapExt: s.maxHeapExt,
        samples: s.samples,
        cpuUs: cpu.user + cpu.system,
        ms,
        cpuPct: ((cpu.user + cpu.system) / 1000 / ms) * 100,
        loopDelayMaxMs: s.eld.max / 1e6,
        loopDelayP99Ms: s.eld.percentile(99) / 1e6,
        connections: target?.connections?.() ?? null,
      };
    },
    /** Arms a count-cut window: from the startAt-th to the stopAt-th event received from now. */
    armCount({ startAt, stopAt }) {
      let resolve;
      const done = new Promise((r) => (resolve = r));
      marks = { startAt: received + startAt, stopAt: received + stopAt, start: null, resolve, done };
      countResult = done;
      return { armedAt: received };
    },
    countResult() {
      if (!countResult) throw new Error('countResult without armCount');
      return countResult;
    },
    async broadcast({ room = ROOM, count, batch = 10 }) {
      const startAt = nowMs();
      for (let seq = 0; seq < count; seq++) {
        target.broadcast(room, { seq, text: BROADCAST_TEXT });
        // Yield now and then, as a real server does between events: lets writes flush.
        if (seq % batch === batch - 1) await tick();
      }
      return { startAt, loopMs: nowMs() - startAt };
    },
    async close() {
      await target?.close?.();
      return true;
    },
  },
  {
    async onExit() {
      // Do not wait on a graceful close forever: --cpu-prof writes its file on exit anyway.
      await Promise.race([target?.close?.(), new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  },
);
