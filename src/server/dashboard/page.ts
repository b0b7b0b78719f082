/**
 * The dashboard's two HTML documents, each one self-contained: the page (panels, inline
 * style and script) and the form that asks for the token. Their Content-Security-Policy
 * allows exactly the inline style and script below (by hash) and connections to this origin.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(PAGE_SCRIPT)}`,
  `style-src ${hash(PAGE_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEAD = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>stelar dashboard</title>
<style>${PAGE_STYLE}</style>
</head>`;

/** A list panel: search box, pager, table. */
function listPanel(name: string, title: string, columns: Array<[string, string?]>, extraTitle = ''): string {
  const head = columns.map(([label, cls]) => `<th${cls ? ` class="${cls}"` : ''}>${label}</th>`).join('');
  return `<section class="wide" id="${name}">
  <h2>${title}${extraTitle}</h2>
  <div class="tools">
    <input type="search" id="${name}-search" placeholder="search ${name}…" autocomplete="off" spellcheck="false">
    <span class="count" id="${name}-count">–</span>
    <button id="${name}-prev" disabled>‹ prev</button>
    <button id="${name}-next" disabled>next ›</button>
  </div>
  <table><thead><tr>${head}</tr></thead><tbody id="${name}-rows"></tbody></table>
</section>`;
}

/** A chart panel: headline value, canvas, legend. */
function chartPanel(id: string, title: string, value: string, legend: Array<[string, string]>): string {
  const items = legend.map(([color, label]) => `<span><i class="k-${color}"></i>${label}</span>`).join('');
  return `<section>
  <h2>${title} <span class="value" id="${value}">–</span></h2>
  <canvas id="${id}"></canvas>
  <div class="legend">${items}</div>
</section>`;
}

export const DASHBOARD_PAGE = `${HEAD}
<body data-state="connecting" data-ticks="0">
<div id="app">
<header><h1>stelar dashboard</h1><span id="status" data-state="connecting">connecting…</span><span class="meta" id="meta"></span></header>
<main>
${chartPanel('c-conn', 'Connections', 'v-conn', [
  ['ws', 'WebSocket'],
  ['tcp', 'TCP'],
])}
${chartPanel('c-rate', 'Messages/s', 'v-rate', [
  ['in', 'received (in)'],
  ['out', 'sent (out)'],
])}
${chartPanel('c-ack', 'ACK latency', 'v-ack', [
  ['p50', 'p50'],
  ['p95', 'p95 (ms)'],
])}
${listPanel('rooms', 'Rooms', [['Room'], ['Members', 'num']], ' <span class="value" id="v-rooms">–</span>')}
${listPanel('clients', 'Clients', [['Id'], ['Transport'], ['Address'], ['Rooms'], ['Connected', 'num'], ['']], ' <span class="value" id="v-clients">–</span>')}
<section class="wide" id="cluster" hidden>
  <h2>Cluster nodes <span class="count" id="cluster-more"></span></h2>
  <p class="error" id="cluster-error"></p>
  <table><thead><tr><th>Node</th><th class="num">WS / TCP</th><th class="num">Rooms</th><th class="num">Msg/s in / out</th><th class="num">Heap</th><th class="num">Up</th></tr></thead><tbody id="cluster-rows"></tbody></table>
</section>
</main>
</div>
<div id="login" hidden>
  <h1>stelar dashboard</h1>
  <p class="error" id="login-error" hidden>The server refused that token.</p>
  <form id="login-form"><label for="token">Token</label><input type="password" id="token" autocomplete="current-password"><button type="submit">Open</button></form>
</div>
<div id="toast"></div>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

/** The form that asks for the token; `wrong`: a token was given and refused. */
export function loginPage(wrong: boolean): string {
  return `${HEAD}
<body>
<div id="login">
  <h1>stelar dashboard</h1>
  ${wrong ? '<p class="error">Wrong token.</p>' : '<p>This dashboard needs its token.</p>'}
  <form method="get"><label for="token">Token</label><input type="password" id="token" name="token" autofocus autocomplete="current-password"><button type="submit">Open</button></form>
</div>
</body>
</html>
`;
}
