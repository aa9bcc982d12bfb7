// Where a Node.js process's heap goes: a V8 heap snapshot (.heapsnapshot, as
// written by v8.writeHeapSnapshot() or node --heapsnapshot-signal) summarized
// the way the DevTools "Summary" view does it, without DevTools:
// - per constructor: object count, self size, and retained size (the memory
//   freed if those objects went; objects dominated by another object of the
//   same constructor are not counted twice);
// - the single objects that retain the most, each with the property path by
//   which the heap holds it (e.g. "ManifestSource.files").
// Retained sizes come from the dominator tree of the object graph (weak edges
// left out, as DevTools does), computed with the iterative algorithm of
// Cooper, Harvey and Kennedy over a reverse postorder.
//
// The numbers arrays of a snapshot are parsed straight from the file's bytes
// into typed arrays: a snapshot of a 300 MB heap is several hundred MB of
// JSON, too big to JSON.parse whole beside the heap that reads it.
//
// CLI: node build/bench/bench/lib/heapsnapshot.js FILE [top]
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface HeapRow {
  name: string;
  count: number;
  selfMB: number;
  retainedMB: number;
}

export interface HeapHolder {
  /** how the heap reaches it: the chain of property names from the nearest named owner */
  path: string;
  name: string;
  retainedMB: number;
}

export interface HeapSummary {
  totalMB: number;
  nodes: number;
  byConstructor: HeapRow[];
  holders: HeapHolder[];
}

interface Meta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

/** The numbers of the JSON array that follows `"key":[` in buf. */
function numberArray(buf: Buffer, key: string): Uint32Array {
  const at = buf.indexOf(`"${key}":[`);
  if (at < 0) throw new Error(`heap snapshot: no "${key}" array`);
  let i = at + key.length + 4;
  const end = buf.indexOf(']', i);
  let count = 0;
  for (let j = i; j < end; j++) if (buf[j] === 0x2c) count++;
  const out = new Uint32Array(end > i ? count + 1 : 0);
  let n = 0;
  let v = 0;
  let inNum = false;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      inNum = true;
    } else if (c === 0x2c) {
      out[n++] = v;
      v = 0;
      inNum = false;
    }
  }
  if (inNum) out[n++] = v;
  return out.subarray(0, n);
}

export function summarizeHeapSnapshot(file: string, top = 20): HeapSummary {
  const buf = fs.readFileSync(file);
  const metaStart = buf.indexOf('"meta":');
  const metaEnd = buf.indexOf('"node_count"', metaStart);
  const metaText = buf.toString('utf8', metaStart + 7, metaEnd).trim().replace(/,$/, '');
  const meta = JSON.parse(metaText) as Meta;
  const nodesArr = numberArray(buf, 'nodes');
  const edgesArr = numberArray(buf, 'edges');
  const stringsAt = buf.indexOf('"strings":[');
  const stringsEnd = buf.lastIndexOf(']');
  const strings = JSON.parse(buf.toString('utf8', stringsAt + 10, stringsEnd + 1)) as string[];

  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSelf = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const WEAK = edgeTypes.indexOf('weak');
  const SHORTCUT = edgeTypes.indexOf('shortcut');
  const ELEMENT = edgeTypes.indexOf('element');
  const HIDDEN = edgeTypes.indexOf('hidden');
  const OBJECT = nodeTypes.indexOf('object');
  const CLOSURE = nodeTypes.indexOf('closure');
  const N = nodesArr.length / NF;

  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += nodesArr[i * NF + nEdges]! * EF;
  }
  firstEdge[N] = edgesArr.length;
  const useEdge = (e: number): boolean => {
    const t = edgesArr[e + eType];
    return t !== WEAK && t !== SHORTCUT;
  };

  // Reverse postorder from the root (node 0), iteratively.
  const order = new Int32Array(N).fill(-1); // postorder number
  const post: number[] = [];
  // the depth-first tree: a real chain of references from the root to each object (for the paths shown)
  const parentEdge = new Uint32Array(N).fill(0xffffffff);
  const parentOf = new Uint32Array(N);
  const seen = new Uint8Array(N);
  {
    const stack = new Uint32Array(N);
    const cursor = new Uint32Array(N);
    let sp = 0;
    stack[sp++] = 0;
    seen[0] = 1;
    cursor[0] = firstEdge[0]!;
    while (sp > 0) {
      const v = stack[sp - 1]!;
      const e = cursor[v]!;
      if (e < firstEdge[v + 1]!) {
        cursor[v] = e + EF;
        if (!useEdge(e)) continue;
        const w = edgesArr[e + eTo]! / NF;
        if (!seen[w]) {
          seen[w] = 1;
          parentOf[w] = v;
          parentEdge[w] = e;
          cursor[w] = firstEdge[w]!;
          stack[sp++] = w;
        }
      } else {
        order[v] = post.length;
        post.push(v);
        sp--;
      }
    }
  }
  const R = post.length;
  // predecessors (reachable nodes only), CSR
  const predCount = new Uint32Array(N + 1);
  for (const v of post) for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) if (useEdge(e)) predCount[edgesArr[e + eTo]! / NF]!++;
  const predStart = new Uint32Array(N + 1);
  for (let i = 0, s = 0; i < N; i++) {
    predStart[i] = s;
    s += predCount[i]!;
  }
  predStart[N] = predStart[N - 1]! + predCount[N - 1]!;
  const preds = new Uint32Array(predStart[N]!);
  const fill = predStart.slice();
  for (const v of post) for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) if (useEdge(e)) preds[fill[edgesArr[e + eTo]! / NF]!++] = v;

  // dominators by postorder number
  const UNDEF = -1;
  const idom = new Int32Array(R).fill(UNDEF);
  idom[R - 1] = R - 1; // the root is last in postorder
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = R - 2; k >= 0; k--) {
      const v = post[k]!;
      let nd = UNDEF;
      for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
        let a = order[preds[p]!]!;
        if (a < 0 || idom[a] === UNDEF) continue;
        if (nd === UNDEF) {
          nd = a;
          continue;
        }
        let b = nd;
        while (a !== b) {
          while (a < b) a = idom[a]!;
          while (b < a) b = idom[b]!;
        }
        nd = a;
      }
      if (nd !== UNDEF && idom[k] !== nd) {
        idom[k] = nd;
        changed = true;
      }
    }
  }
  // retained sizes: children before dominators (ascending postorder)
  const retained = new Float64Array(R);
  for (let k = 0; k < R; k++) retained[k] = nodesArr[post[k]! * NF + nSelf]!;
  for (let k = 0; k < R - 1; k++) retained[idom[k]!]! += retained[k]!;

  const nameOf = (v: number): string => {
    const t = nodesArr[v * NF + nType]!;
    const s = strings[nodesArr[v * NF + nName]!] ?? '?';
    if (t === OBJECT || t === CLOSURE) return t === CLOSURE ? `${s}()` : s;
    return `(${nodeTypes[t]})`;
  };

  // per constructor; retained counted for objects not dominated by one of the same name
  const rows = new Map<string, HeapRow>();
  const nameCache = new Map<number, string>();
  const nm = (k: number): string => {
    let s = nameCache.get(k);
    if (s === undefined) nameCache.set(k, (s = nameOf(post[k]!)));
    return s;
  };
  let total = 0;
  for (let k = 0; k < R - 1; k++) {
    const name = nm(k);
    const self = nodesArr[post[k]! * NF + nSelf]!;
    total += self;
    let row = rows.get(name);
    if (row === undefined) rows.set(name, (row = { name, count: 0, selfMB: 0, retainedMB: 0 }));
    row.count++;
    row.selfMB += self;
    let d = idom[k]!;
    let nested = false;
    while (d !== R - 1) {
      if (nm(d) === name) {
        nested = true;
        break;
      }
      d = idom[d]!;
    }
    if (!nested) row.retainedMB += retained[k]!;
  }
  nameCache.clear();
  const MB = 2 ** 20;
  const byConstructor = [...rows.values()]
    .map((r) => ({ ...r, selfMB: r.selfMB / MB, retainedMB: r.retainedMB / MB }))
    .sort((a, b) => b.selfMB - a.selfMB)
    .slice(0, top);

  const edgeText = (e: number): string => {
    const t = edgesArr[e + eType]!;
    const n = edgesArr[e + eName]!;
    return t === ELEMENT || t === HIDDEN ? `[${n}]` : (strings[n] ?? '?');
  };
  const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', 'system / Context', 'WeakMap']);
  /** "Owner.prop.prop": up the chain of references that reached the object first, to the nearest object of a class. */
  const pathOf = (k: number): string => {
    const parts: string[] = [];
    let v = post[k]!;
    for (let depth = 0; depth < 10 && v !== 0 && parentEdge[v] !== 0xffffffff; depth++) {
      const e = parentEdge[v]!;
      const p = parentOf[v]!;
      const t = edgesArr[e + eType]!;
      if (t !== HIDDEN) parts.unshift(edgeText(e)); // a Map's backing table and the like: not part of a name
      const pn = nameOf(p);
      if (nodesArr[p * NF + nType] === OBJECT && !GENERIC.has(pn) && !pn.startsWith('(')) {
        parts.unshift(pn);
        break;
      }
      if (pn === 'system / Context') {
        parts.unshift('(closure)');
        break;
      }
      v = p;
    }
    return parts.join('.');
  };
  // biggest holders: objects retaining >= 1 MB whose retained size is not
  // mostly one child's (so a chain of wrappers is shown once, at its end)
  const big: number[] = [];
  for (let k = 0; k < R - 1; k++) if (retained[k]! >= MB && nodesArr[post[k]! * NF + nType] !== nodeTypes.indexOf('synthetic')) big.push(k);
  const maxChild = new Float64Array(R);
  for (let k = 0; k < R - 1; k++) maxChild[idom[k]!] = Math.max(maxChild[idom[k]!]!, retained[k]!);
  const holders = big
    .filter((k) => maxChild[k]! < 0.9 * retained[k]!)
    .sort((a, b) => retained[b]! - retained[a]!)
    .slice(0, top)
    .map((k) => ({ path: pathOf(k), name: nameOf(post[k]!), retainedMB: retained[k]! / MB }));
  return { totalMB: total / MB, nodes: N, byConstructor, holders };
}

export function formatHeapSummary(s: HeapSummary): string {
  const r = (v: number): string => v.toFixed(1);
  const lines = [
    `heap snapshot: ${r(s.totalMB)} MB in ${s.nodes.toLocaleString('en')} nodes`,
    '',
    '| constructor | objects | self MB | retained MB |',
    '|---|---:|---:|---:|',
    ...s.byConstructor.map((c) => `| ${c.name.replace(/\|/g, '\\|').slice(0, 60)} | ${c.count.toLocaleString('en')} | ${r(c.selfMB)} | ${r(c.retainedMB)} |`),
    '',
    '| held as | object | retained MB |',
    '|---|---|---:|',
    ...s.holders.map((h) => `| \`${h.path.slice(0, 100)}\` | ${h.name.slice(0, 40)} | ${r(h.retainedMB)} |`),
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: heapsnapshot.js FILE [top]');
  console.log(formatHeapSummary(summarizeHeapSnapshot(file, Number(process.argv[3] ?? 25))));
}
