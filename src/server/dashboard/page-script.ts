/**
 * The dashboard page's script (inline in the page; its hash is in the page's CSP). Plain
 * ES2020 for the browser, kept in a template string (no backslashes, no `${`): no build step, no external asset. It writes
 * every value it receives with `textContent` (client ids and room names are the
 * application's users' text, never HTML), and test/server/dashboard-page.test.mjs parses it.
 *
 * What it does: takes the token from `?token=` (then removes it from the address bar),
 * opens the live channel on the page's own path, authenticates, and redraws the charts and
 * lists on every tick; on a lost connection it reconnects (1 s, 2 s, ... 5 s) and resumes;
 * on a refused token it asks for another.
 */
export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var HISTORY = 120;
  var params = new URLSearchParams(location.search);
  var token = params.get('token') || '';
  if (params.has('token')) {
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + location.pathname;
  var $ = function (id) { return document.getElementById(id); };
  var lists = { clients: { q: '', page: 0 }, rooms: { q: '', page: 0 } };
  var pageSize = 20;
  var samples = [];
  var ws = null;
  var attempts = 0;
  var ticks = 0;
  var viewTimer = null;

  function setStatus(state, text) {
    var el = $('status');
    el.dataset.state = state;
    el.textContent = text;
    document.body.dataset.state = state;
  }

  function connect() {
    setStatus(attempts ? 'reconnecting' : 'connecting', attempts ? 'reconnecting…' : 'connecting…');
    var sock = new WebSocket(wsUrl);
    ws = sock;
    sock.onopen = function () { sock.send(JSON.stringify({ t: 'auth', token: token })); };
    sock.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.t === 'hello') onHello(m);
      else if (m.t === 'tick') onTick(m);
      else if (m.t === 'kicked') toast(m.ok ? 'disconnected ' + m.id : m.id + ' is not connected here');
    };
    sock.onclose = function (e) {
      if (ws !== sock) return;
      ws = null;
      if (e.code === 4001) {
        setStatus('refused', 'token refused');
        showLogin(true);
        return;
      }
      attempts++;
      setStatus('reconnecting', 'reconnecting…');
      setTimeout(connect, Math.min(attempts, 5) * 1000);
    };
  }

  function send(m) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(m)); }
  function sendView() { send({ t: 'view', clients: lists.clients, rooms: lists.rooms }); }

  function onHello(m) {
    attempts = 0;
    pageSize = m.pageSize || pageSize;
    samples = (m.history || []).slice(-HISTORY);
    $('cluster').hidden = !m.cluster;
    setStatus('live', 'live');
    sendView();
  }

  function onTick(m) {
    var s = m.sample;
    if (s && (samples.length === 0 || samples[samples.length - 1].at < s.at)) {
      samples.push(s);
      if (samples.length > HISTORY) samples.shift();
    }
    ticks++;
    document.body.dataset.ticks = String(ticks);
    if (s) renderNumbers(s);
    renderCharts();
    renderClients(m.clients);
    renderRooms(m.rooms);
    if (m.cluster) renderCluster(m.cluster);
  }

  // ---- formatting ----
  function num(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return String(Math.round(n * 10) / 10);
  }
  function ms(n) { return n >= 100 ? Math.round(n) + ' ms' : n >= 1 ? n.toFixed(1) + ' ms' : n.toFixed(2) + ' ms'; }
  function duration(sec) {
    sec = Math.max(0, Math.floor(sec));
    if (sec < 60) return sec + 's';
    if (sec < 3600) return Math.floor(sec / 60) + 'm ' + (sec % 60) + 's';
    if (sec < 86400) return Math.floor(sec / 3600) + 'h ' + Math.floor((sec % 3600) / 60) + 'm';
    return Math.floor(sec / 86400) + 'd ' + Math.floor((sec % 86400) / 3600) + 'h';
  }
  function range(p, matched) {
    if (matched === 0) return '0 of 0';
    var from = p.page * pageSize + 1;
    return from + '–' + Math.min(matched, from + pageSize - 1) + ' of ' + matched;
  }

  function renderNumbers(s) {
    $('v-conn').textContent = num(s.ws + s.tcp);
    $('v-rate').textContent = num(s.in) + ' / ' + num(s.out);
    $('v-ack').textContent = s.ackN ? ms(s.ackP50).replace(' ms', '') + ' / ' + ms(s.ackP95) : '–';
    $('v-rooms').textContent = num(s.rooms);
    $('meta').textContent = 'up ' + duration(s.up) + ' · heap ' + s.mem + ' MB';
  }

  // ---- charts ----
  var colors = {};
  function color(name) {
    if (!colors[name]) colors[name] = getComputedStyle(document.documentElement).getPropertyValue('--' + name).trim() || '#ccc';
    return colors[name];
  }
  // The next 1, 2 or 5 times a power of ten: the top line gets a round label.
  function nice(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var f = v / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  function drawChart(canvas, series, format) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var max = 0;
    series.forEach(function (sr) { samples.forEach(function (s) { max = Math.max(max, sr.get(s)); }); });
    max = max <= 0 ? 1 : nice(max * 1.05);
    var top = 14, bottom = h - 2;
    g.strokeStyle = '#2a3441';
    g.fillStyle = '#8593a3';
    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    for (var i = 0; i <= 2; i++) {
      var y = Math.round(top + ((bottom - top) * i) / 2) + 0.5;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    g.fillText(format(max), 2, 11);
    var step = w / (HISTORY - 1);
    var x0 = w - (samples.length - 1) * step;
    series.forEach(function (sr) {
      g.strokeStyle = color(sr.color);
      g.lineWidth = 1.5;
      g.beginPath();
      samples.forEach(function (s, k) {
        var x = x0 + k * step;
        var y = bottom - ((bottom - top) * sr.get(s)) / max;
        if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
    canvas.dataset.points = String(samples.length);
    canvas.dataset.last = series.map(function (sr) { return samples.length ? sr.get(samples[samples.length - 1]) : 0; }).join(',');
  }
  function renderCharts() {
    drawChart($('c-conn'), [
      { color: 'ws', get: function (s) { return s.ws; } },
      { color: 'tcp', get: function (s) { return s.tcp; } },
    ], num);
    drawChart($('c-rate'), [
      { color: 'in', get: function (s) { return s.in; } },
      { color: 'out', get: function (s) { return s.out; } },
    ], function (v) { return num(v) + '/s'; });
    drawChart($('c-ack'), [
      { color: 'p50', get: function (s) { return s.ackP50; } },
      { color: 'p95', get: function (s) { return s.ackP95; } },
    ], ms);
  }

  // ---- lists ----
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    td.title = text;
    tr.appendChild(td);
    return td;
  }
  function fill(tbody, rows, columns, makeRow) {
    var out = document.createDocumentFragment();
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var td = document.createElement('td');
      td.colSpan = columns;
      td.textContent = 'nothing here';
      tr.appendChild(td);
      out.appendChild(tr);
    }
    rows.forEach(function (r) { out.appendChild(makeRow(r)); });
    tbody.replaceChildren(out);
  }
  function pager(prefix, p, matched) {
    $(prefix + '-count').textContent = range(p, matched);
    $(prefix + '-prev').disabled = p.page === 0;
    $(prefix + '-next').disabled = (p.page + 1) * pageSize >= matched;
  }
  function renderClients(c) {
    if (!c) return;
    lists.clients.page = c.page;
    pager('clients', c, c.matched);
    $('v-clients').textContent = num(c.all);
    var now = Date.now();
    fill($('clients-rows'), c.rows, 6, function (r) {
      var tr = document.createElement('tr');
      tr.dataset.id = r.id;
      cell(tr, r.id);
      var td = cell(tr, '');
      var tag = document.createElement('span');
      tag.className = 'tag ' + r.protocol;
      tag.textContent = r.protocol;
      td.appendChild(tag);
      cell(tr, r.address);
      cell(tr, r.rooms ? r.rooms + ': ' + r.roomNames.join(', ') + (r.rooms > r.roomNames.length ? ', …' : '') : '');
      cell(tr, duration((now - r.connectedAt) / 1000), 'num');
      var act = cell(tr, '');
      var b = document.createElement('button');
      b.className = 'danger kick';
      b.textContent = 'Disconnect';
      b.addEventListener('click', function () { b.disabled = true; send({ t: 'kick', id: r.id }); });
      act.appendChild(b);
      return tr;
    });
  }
  function renderRooms(rm) {
    if (!rm) return;
    lists.rooms.page = rm.page;
    pager('rooms', rm, rm.matched);
    fill($('rooms-rows'), rm.rows, 2, function (r) {
      var tr = document.createElement('tr');
      cell(tr, r.name);
      cell(tr, num(r.members), 'num');
      return tr;
    });
  }
  function renderCluster(cl) {
    $('cluster').hidden = false;
    $('cluster-error').textContent = cl.error ? 'last answer failed: ' + cl.error : '';
    $('cluster-more').textContent = cl.more ? '+' + cl.more + ' more nodes' : '';
    fill($('cluster-rows'), cl.nodes, 6, function (n) {
      var tr = document.createElement('tr');
      cell(tr, n.id);
      cell(tr, num(n.ws) + ' / ' + num(n.tcp), 'num');
      cell(tr, num(n.rooms), 'num');
      cell(tr, num(n.in) + ' / ' + num(n.out), 'num');
      cell(tr, n.mem + ' MB', 'num');
      cell(tr, duration(n.up), 'num');
      return tr;
    });
  }

  function wireList(name) {
    $(name + '-search').addEventListener('input', function (e) {
      lists[name].q = e.target.value;
      lists[name].page = 0;
      clearTimeout(viewTimer);
      viewTimer = setTimeout(sendView, 150);
    });
    $(name + '-prev').addEventListener('click', function () { lists[name].page = Math.max(0, lists[name].page - 1); sendView(); });
    $(name + '-next').addEventListener('click', function () { lists[name].page++; sendView(); });
  }

  var toastTimer = null;
  function toast(text) {
    var t = $('toast');
    t.textContent = text;
    t.style.display = 'block';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.style.display = 'none'; }, 3000);
  }

  function showLogin(refused) {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !refused;
    $('token').focus();
  }
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value;
    $('login').hidden = true;
    $('app').hidden = false;
    attempts = 0;
    connect();
  });

  wireList('clients');
  wireList('rooms');
  window.addEventListener('resize', renderCharts);
  renderCharts();
  connect();
})();
`;
