/**
 * The inspector's page (`GET /inspector`): self-contained HTML, CSS and a little
 * vanilla JS. It reads `/inspector/feed` (server-sent events) and draws the
 * selected session's graph with the Mermaid library the app serves at
 * `/inspector/mermaid.js` (nothing is fetched from the internet). The page's
 * query string (a token for `authenticate`, say) is passed on to both.
 *
 * The page keeps what it last received on `window.rxcrewInspector` and marks its
 * state in the DOM (`#graph[data-rendered]`, `tr[data-node]`), for tests.
 */
export const INSPECTOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rxcrew inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
  header { padding: 10px 16px; background: #1b1f24; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #status { font-size: 12px; opacity: .8; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) 3fr; align-items: start; gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 12px; overflow: auto; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #57606a; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f2; white-space: nowrap; }
  th { font-weight: 600; color: #57606a; font-size: 12px; }
  td.num, th.num { text-align: right; }
  #sessions tbody tr { cursor: pointer; }
  #sessions tbody tr:hover { background: #f0f4ff; }
  #sessions tbody tr.selected { background: #dbe7ff; }
  .id { font-family: ui-monospace, monospace; font-size: 12px; }
  #detail { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  #detail > .wide { grid-column: 1 / -1; }
  #graph { overflow-x: auto; }
  #graph svg { max-width: 100%; height: auto; }
  #graph .rx-count { font: 600 12px ui-monospace, monospace; fill: #0b57d0; }
  .dir-in { color: #1a7f37; } .dir-out { color: #0b57d0; } .dir-inject { color: #9a6700; }
  .empty { color: #8c959f; font-style: italic; }
</style>
</head>
<body>
<header><h1>rxcrew inspector</h1><span id="status">connecting…</span></header>
<main>
  <section>
    <h2>Live sessions <span id="total"></span></h2>
    <table id="sessions"><thead><tr><th>id</th><th>started</th><th>state</th><th class="num">in</th><th class="num">out</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="detail-box">
    <h2 id="detail-title">Select a session</h2>
    <div id="detail" hidden>
      <div class="wide"><div id="graph"></div></div>
      <div><h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th class="num">received</th><th class="num">emitted</th></tr></thead><tbody></tbody></table></div>
      <div><h2>Turn metrics</h2><table id="turns"><thead><tr><th>request</th><th class="num">ttft</th><th class="num">duration</th><th class="num">tools</th><th class="num">tts</th><th class="num">voice</th><th class="num">chunks</th><th>outcome</th></tr></thead><tbody></tbody></table></div>
      <div class="wide"><h2>Recent events</h2><table id="events"><thead><tr><th>time</th><th>dir</th><th>type</th><th class="num">×</th><th class="num">bytes</th></tr></thead><tbody></tbody></table></div>
    </div>
  </section>
</main>
<script>
(function () {
  'use strict';
  var base = '/inspector/';
  var query = new URLSearchParams(location.search);
  var state = { data: null, selected: query.get('session'), renders: 0, mermaid: '' };
  window.rxcrewInspector = state;
  var source = null;
  var renderSeq = 0;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells, numFrom) {
    var tr = document.createElement('tr');
    cells.forEach(function (c, i) { tr.appendChild(el('td', c, i >= numFrom ? 'num' : '')); });
    return tr;
  }
  function time(t) { return t ? new Date(t).toLocaleTimeString() : ''; }
  function ms(v) { return typeof v === 'number' ? v.toFixed(0) + ' ms' : ''; }
  function fill(tbody, rows, emptyText, columns) {
    tbody.textContent = '';
    if (rows.length === 0) { var tr = document.createElement('tr'); var td = el('td', emptyText, 'empty'); td.colSpan = columns; tr.appendChild(td); tbody.appendChild(tr); }
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function connect() {
    if (source) source.close();
    var params = new URLSearchParams(location.search);
    if (state.selected) params.set('session', state.selected); else params.delete('session');
    source = new EventSource(base + 'feed?' + params.toString());
    source.onopen = function () { document.getElementById('status').textContent = 'live'; };
    source.onerror = function () { document.getElementById('status').textContent = 'reconnecting…'; };
    source.onmessage = function (m) { state.data = JSON.parse(m.data); show(state.data); };
  }

  function select(id) {
    state.selected = id;
    state.mermaid = '';
    document.getElementById('graph').textContent = '';
    document.getElementById('graph').removeAttribute('data-rendered');
    var params = new URLSearchParams(location.search);
    params.set('session', id);
    history.replaceState(null, '', base + '?' + params.toString());
    connect();
  }

  function show(data) {
    document.getElementById('total').textContent = '(' + data.total + ')';
    var rows = data.sessions.slice().reverse().map(function (s) {
      var tr = row([s.id.slice(0, 8), time(s.started), s.state, s.in, s.out], 3);
      tr.firstChild.className = 'id';
      tr.title = s.id;
      tr.dataset.id = s.id;
      if (s.id === state.selected) tr.className = 'selected';
      tr.onclick = function () { select(s.id); };
      return tr;
    });
    fill(document.querySelector('#sessions tbody'), rows, 'no live session', 5);
    var d = data.session;
    var title = document.getElementById('detail-title');
    document.getElementById('detail').hidden = !d;
    if (!d) { title.textContent = state.selected ? 'Session ' + state.selected + ' is not live' : 'Select a session'; return; }
    title.textContent = 'Session ' + d.id + ' — ' + d.state + ' — ' + d.in + ' in, ' + d.out + ' out';
    title.dataset.state = d.state;
    fill(document.querySelector('#nodes tbody'), d.nodes.map(function (n) {
      var tr = row([n.name, n.in, n.out], 1);
      tr.dataset.node = n.name;
      tr.dataset.received = n.in;
      tr.dataset.emitted = n.out;
      return tr;
    }), 'no nodes', 3);
    fill(document.querySelector('#events tbody'), d.recent.slice().reverse().map(function (e) {
      var tr = row([time(e.t), e.dir, e.name ? e.type + ' ' + e.name : e.type, e.n > 1 ? e.n : '', e.bytes === undefined ? '' : e.bytes], 3);
      tr.children[1].className = 'dir-' + e.dir;
      return tr;
    }), 'nothing yet', 5);
    fill(document.querySelector('#turns tbody'), d.turns.slice().reverse().map(function (t) {
      t = t || {};
      var tr = row([String(t.request_id || '').slice(0, 8), ms(t.ttft_ms), ms(t.duration_ms), ms(t.tool_ms), ms(t.tts_ttfb_ms), ms(t.voice_response_ms), t.chunks, t.outcome || (t.interrupted ? 'interrupted' : '')], 1);
      tr.title = String(t.request_id || '');
      return tr;
    }), 'no turn yet', 8);
    if (d.mermaid !== state.mermaid) draw(d.mermaid); else label(d.nodes);
  }

  function draw(text) {
    state.mermaid = text;
    var graph = document.getElementById('graph');
    if (!window.mermaid) { graph.appendChild(el('pre', text)); return; }
    var seq = ++renderSeq;
    window.mermaid.render('rx-graph-' + seq, text).then(function (out) {
      if (seq !== renderSeq) return; // a newer graph was asked for meanwhile
      graph.innerHTML = out.svg;
      graph.setAttribute('data-rendered', String(++state.renders));
      if (state.data && state.data.session) label(state.data.session.nodes);
    }, function (err) { graph.textContent = 'could not draw the graph: ' + err; });
  }

  // each node of the drawing gets a count under it: events received → emitted
  function label(nodes) {
    var svg = document.querySelector('#graph svg');
    if (!svg) return;
    nodes.forEach(function (n) {
      var g = svg.querySelector('g.node[id*="-' + n.id + '-"]') || svg.querySelector('g.node[id$="' + n.id + '"]');
      if (!g) return;
      var text = g.querySelector('text.rx-count');
      if (!text) {
        var box = g.getBBox();
        text = document.createElementNS('http://www.w3.org/2000/svg', 'text');
        text.setAttribute('class', 'rx-count');
        text.setAttribute('text-anchor', 'middle');
        text.setAttribute('x', String(box.x + box.width / 2));
        text.setAttribute('y', String(box.y + box.height + 14));
        text.dataset.node = n.name;
        g.appendChild(text);
      }
      text.textContent = n.in + ' → ' + n.out;
    });
  }

  // Mermaid first (served by the app, with the page's query for authenticate), then the feed
  var script = document.createElement('script');
  script.src = base + 'mermaid.js' + location.search;
  script.onload = function () {
    window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', flowchart: { htmlLabels: false } });
    connect();
  };
  script.onerror = connect; // without Mermaid the graph is shown as text
  document.head.appendChild(script);
})();
</script>
</body>
</html>
`;
