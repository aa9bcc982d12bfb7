// vrfwall web UI: talks only to the relay's /api (src/relay/ui/server.ts).
'use strict';

const $ = (sel) => document.querySelector(sel);
const show = (el, text) => { el.textContent = text; el.hidden = !text; };

function nodesText(n) {
  if (!n) return '';
  const failed = (n.failed || []).map((f) => `${f.node} (${f.error})`);
  return `nodes answered: ${(n.answered || []).join(', ') || 'none'}${failed.length ? `; not answering: ${failed.join(', ')}` : ''}`;
}

async function getJson(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `${r.status}`);
  return body;
}

// ---- (a) the graph -------------------------------------------------------------------
let cy;
async function loadGraph() {
  try {
    const { graph, nodes } = await getJson('api/graph');
    show($('#graph-error'), '');
    $('#nodes').textContent = nodesText(nodes);
    const elements = [
      ...graph.nodes.map((n) => ({ data: { id: n.id, label: n.label, kind: n.kind, detail: n.detail || '' }, classes: [n.kind, n.isolated ? 'isolated' : '', n.quarantined ? 'quarantined' : ''].join(' ') })),
      ...graph.edges.map((e) => ({ data: e })),
    ];
    if (cy) cy.destroy();
    cy = cytoscape({
      container: $('#graph'),
      elements,
      layout: { name: 'cose', animate: false, nodeRepulsion: 9000, idealEdgeLength: 60 },
      style: [
        { selector: 'node', style: { label: 'data(label)', 'font-size': 9, 'text-valign': 'bottom', 'text-margin-y': 2 } },
        { selector: 'node.network', style: { shape: 'round-rectangle', 'background-color': '#a8dadc', width: 34, height: 34, 'font-size': 11, 'font-weight': 'bold' } },
        { selector: 'node.network.isolated', style: { 'background-color': '#f4a261', 'border-width': 3, 'border-color': '#e76f51' } },
        { selector: 'node.pod', style: { 'background-color': '#e9ecef', 'border-width': 1, 'border-color': '#999', width: 16, height: 16 } },
        { selector: 'node.pod.quarantined', style: { 'background-color': '#e63946', 'border-color': '#9d0208', 'border-width': 3 } },
        { selector: 'node.service', style: { shape: 'diamond', 'background-color': '#cdb4db', width: 18, height: 18 } },
        { selector: 'node.router', style: { shape: 'hexagon', 'background-color': '#333', width: 20, height: 20 } },
        { selector: 'edge', style: { width: 1, 'line-color': '#bbb' } },
        { selector: ':selected', style: { 'border-width': 3, 'border-color': '#1d3557' } },
      ],
    });
    // pick a pair for "why?": first click fills source, second destination
    cy.on('tap', 'node.pod', (ev) => {
      const name = ev.target.data('label').split('@')[0];
      const f = $('#why-form');
      if (!f.source.value || f.destination.value) { f.source.value = name; f.destination.value = ''; } else f.destination.value = name;
    });
    window.vrfwallCy = cy;
    window.vrfwallGraph = graph; // for tests and the console
  } catch (e) {
    show($('#graph-error'), `graph: ${e.message}`);
  }
}

// ---- (b) live flows ------------------------------------------------------------------
const MAX_ROWS = 500;
let flowsAbort;
const rows = new Map(); // node/id -> row

function endpointText(ep) {
  if (!ep) return '';
  const who = ep.pod ? `${ep.namespace}/${ep.pod}${ep.interface ? `@${ep.interface}` : ''}` : ep.service || ep.ip;
  return `${who}${ep.port ? `:${ep.port}` : ''}`;
}

function showFlow(f) {
  const key = `${f.node}/${f.id}`;
  let tr = rows.get(key);
  if (!tr) {
    tr = document.createElement('tr');
    rows.set(key, tr);
  }
  const verdict = String(f.verdict).replace(/^VERDICT_/, '');
  tr.className = verdict === 'DROPPED' ? 'dropped' : '';
  tr.dataset.verdict = verdict;
  tr.dataset.source = endpointText(f.source);
  tr.dataset.destination = endpointText(f.destination);
  const cells = [
    new Date(Number(f.lastSeenMs)).toLocaleTimeString(),
    f.node,
    endpointText(f.source),
    endpointText(f.destination),
    f.protocolName || f.protocol,
    verdict,
    verdict === 'DROPPED' ? f.dropReason : f.allowRule,
    `${f.forward.packets}/${f.reverse.packets}`,
    `${f.forward.bytes}/${f.reverse.bytes}`,
  ];
  tr.replaceChildren(...cells.map((c, i) => {
    const td = document.createElement('td');
    td.textContent = c == null ? '' : String(c);
    if (i === 5) td.className = `verdict-${verdict}`;
    return td;
  }));
  const body = $('#flows tbody');
  body.prepend(tr); // most recent first
  while (body.rows.length > MAX_ROWS) {
    const last = body.rows[body.rows.length - 1];
    for (const [k, v] of rows) if (v === last) rows.delete(k);
    last.remove();
  }
}

async function followFlows() {
  flowsAbort?.abort();
  flowsAbort = new AbortController();
  const params = new URLSearchParams();
  for (const el of $('#flows-form').elements) if (el.name && el.value.trim()) params.append(el.name, el.value.trim());
  params.set('follow', '1');
  rows.clear();
  $('#flows tbody').replaceChildren();
  show($('#flows-error'), '');
  try {
    const r = await fetch(`api/flows?${params}`, { signal: flowsAbort.signal });
    if (!r.ok) {
      const body = await r.json().catch(() => ({ error: `${r.status}` }));
      show($('#flows-error'), `bad filter: ${body.error}`);
      return;
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line) continue;
        const m = JSON.parse(line);
        if (m.error) show($('#flows-error'), m.error);
        else if (m.nodes) $('#flows-info').textContent = nodesText(m.nodes);
        else if (m.lost) $('#flows-info').textContent = `${m.lost.count} flows lost: ${m.lost.where}`;
        else for (const f of m.batch ? m.batch.flows : m.flow ? [m.flow] : []) showFlow(f);
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') show($('#flows-error'), `flows: ${e.message}`);
  }
}

// ---- (c) why? ------------------------------------------------------------------------
async function explain(ev) {
  ev.preventDefault();
  const f = $('#why-form');
  const params = new URLSearchParams();
  for (const k of ['source', 'destination', 'protocol', 'port']) if (f[k].value.trim()) params.set(k, f[k].value.trim());
  const out = $('#why-result');
  out.textContent = '…';
  try {
    const r = await getJson(`api/explain?${params}`);
    const verdict = String(r.verdict).replace(/^VERDICT_/, '');
    out.replaceChildren();
    const h = document.createElement('div');
    const v = document.createElement('span');
    v.className = `verdict-${verdict.replace(/[^A-Z_]/g, '')}`;
    v.textContent = verdict;
    const reason = document.createElement('span');
    reason.className = 'reason';
    reason.textContent = `${r.reason}${r.rule ? ` (${r.rule})` : ''}`;
    h.append(v, ' ', reason);
    const pre = document.createElement('pre');
    pre.textContent = [
      ...r.steps.map((s) => `${s.hook} of ${s.pod}: ${String(s.verdict).replace(/^VERDICT_/, '')} ${s.reason}${s.rule ? ` (${s.rule})` : ''}`),
      r.note ? `note: ${r.note}` : '',
      nodesText(r.nodes),
    ].filter(Boolean).join('\n');
    out.id = 'why-result';
    out.dataset.verdict = verdict;
    out.append(h, pre);
  } catch (e) {
    out.replaceChildren();
    const d = document.createElement('div');
    d.className = 'error';
    d.textContent = e.message;
    out.append(d);
  }
}

// ---- (d) the lab's matrix ------------------------------------------------------------
async function loadMatrix() {
  let body;
  try {
    body = await getJson('api/matrix');
  } catch (e) {
    if (/not a lab/.test(e.message)) return; // a cluster's relay: no panel
    $('#matrix-panel').hidden = false;
    $('#matrix').textContent = e.message;
    return;
  }
  $('#matrix-panel').hidden = false;
  const pods = body.matrix.pods || {};
  const names = Object.keys(pods).sort();
  const t = document.createElement('table');
  const head = document.createElement('tr');
  head.append(...['from \\ to', ...names].map((n) => { const th = document.createElement('th'); th.textContent = n; return th; }));
  t.append(head);
  for (const a of names) {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = a;
    tr.append(th);
    for (const b of names) {
      const td = document.createElement('td');
      const cell = pods[a][b];
      if (cell) {
        const vals = Object.entries(cell).filter(([, v]) => v !== null);
        const ok = vals.filter(([, v]) => v).length;
        td.textContent = a === b ? '' : `${ok}/${vals.length}`;
        td.title = vals.map(([k, v]) => `${k}: ${v ? 'ok' : 'blocked'}`).join(', ');
        if (a !== b) td.className = ok === vals.length ? 'yes' : ok === 0 ? 'no' : '';
      }
      tr.append(td);
    }
    t.append(tr);
  }
  const when = document.createElement('div');
  when.textContent = `last \`lab matrix\`: ${new Date(body.modified).toLocaleString()} (cells: probes that got through / probes)`;
  $('#matrix').replaceChildren(when, t);
}

$('#graph-reload').addEventListener('click', () => void loadGraph());
$('#flows-form').addEventListener('submit', (ev) => { ev.preventDefault(); void followFlows(); });
$('#why-form').addEventListener('submit', (ev) => void explain(ev));
void loadGraph();
void followFlows();
void loadMatrix();
