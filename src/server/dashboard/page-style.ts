/** The dashboard page's stylesheet (inline in the page; its hash is in the page's CSP). */
export const PAGE_STYLE = `
:root { color-scheme: dark; --bg: #0f1419; --panel: #171e26; --line: #2a3441; --text: #d7dde4; --dim: #8593a3;
  --ws: #4fc3f7; --tcp: #ffb74d; --in: #81c784; --out: #ba68c8; --p50: #4fc3f7; --p95: #ef5350; --bad: #ef5350; --ok: #66bb6a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 16px; margin: 0; font-weight: 600; }
header .meta { color: var(--dim); margin-left: auto; font-variant-numeric: tabular-nums; }
#status { padding: 2px 10px; border-radius: 10px; font-size: 12px; background: var(--line); }
#status[data-state="live"] { background: #1b5e20; }
#status[data-state="reconnecting"], #status[data-state="connecting"] { background: #8d6e00; }
#status[data-state="refused"] { background: #8e0000; }
main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
section h2 { font-size: 13px; font-weight: 600; margin: 0 0 8px; color: var(--dim); text-transform: uppercase; letter-spacing: .04em;
  display: flex; gap: 10px; align-items: baseline; }
section h2 .value { color: var(--text); font-size: 20px; text-transform: none; letter-spacing: 0; font-variant-numeric: tabular-nums; }
.legend { display: flex; gap: 14px; font-size: 12px; color: var(--dim); margin-top: 4px; }
.legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 4px; }
.k-ws { background: var(--ws); } .k-tcp { background: var(--tcp); } .k-in { background: var(--in); } .k-out { background: var(--out); }
.k-p50 { background: var(--p50); } .k-p95 { background: var(--p95); }
.error { color: var(--bad); }
canvas { width: 100%; height: 120px; display: block; }
.tools { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
.tools input[type="search"] { flex: 1; background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 5px 8px; }
.tools .count { color: var(--dim); font-size: 12px; white-space: nowrap; font-variant-numeric: tabular-nums; }
button { background: var(--line); color: var(--text); border: 1px solid #3a4656; border-radius: 4px; padding: 3px 10px; cursor: pointer; font: inherit; font-size: 12px; }
button:hover:not(:disabled) { background: #3a4656; }
button:disabled { opacity: .4; cursor: default; }
button.danger { border-color: #7f2a2a; }
button.danger:hover { background: #7f2a2a; }
table { width: 100%; border-collapse: collapse; font-size: 13px; table-layout: fixed; }
th { text-align: left; color: var(--dim); font-weight: 500; border-bottom: 1px solid var(--line); padding: 4px 6px; }
td { border-bottom: 1px solid #1f2832; padding: 4px 6px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.num, th.num { text-align: right; }
#clients th:nth-child(1) { width: 30%; } #clients th:nth-child(2) { width: 9%; } #clients th:nth-child(3) { width: 14%; }
#clients th:nth-child(5) { width: 10%; } #clients th:nth-child(6) { width: 110px; }
.empty td { color: var(--dim); text-align: center; }
.tag { font-size: 11px; padding: 0 6px; border-radius: 3px; }
.tag.ws { background: #0d3a4d; color: var(--ws); }
.tag.tcp { background: #4d3300; color: var(--tcp); }
#toast { position: fixed; bottom: 16px; right: 16px; background: var(--panel); border: 1px solid var(--line); padding: 8px 14px; border-radius: 6px; display: none; }
#login { max-width: 420px; margin: 12vh auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 20px; }
#login h1 { font-size: 18px; margin: 0 0 12px; }
#login p { color: var(--dim); }
#login .error { color: var(--bad); }
#login input { width: 100%; background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 8px; margin: 6px 0 12px; font: inherit; }
[hidden] { display: none !important; }
`;
