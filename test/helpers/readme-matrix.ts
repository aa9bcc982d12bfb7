// The expected matrices written in an example's README (markdown tables after
// `<!-- expected: pods -->` and `<!-- expected: services -->`; a pods cell is
// yes, no, n/a, or the protocols that answer, such as "tcp"), compared with
// a lab's matrix: examples.test.ts runs the lab, readme-matrix.test.ts checks
// the comparison itself (that a missing or wrong cell is reported).
import { CELL_FIELDS, type Matrix } from '../../src/lab/protocol.js';

type Table = { columns: string[]; rows: Map<string, Map<string, string>> };

/** The markdown table after `<!-- expected: <name> -->` in a README. */
export function readmeTable(readme: string, name: string): Table {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.trim() === `<!-- expected: ${name} -->`);
  if (start < 0) throw new Error(`README has no "expected: ${name}" table`);
  const rowsText = lines.slice(start + 1).filter((_, i, all) => all.slice(0, i + 1).every((l) => l.trim().startsWith('|')));
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim().replace(/\*\*/g, ''));
  const [head, , ...body] = rowsText;
  const columns = cells(head as string).slice(1);
  const rows = new Map<string, Map<string, string>>();
  for (const l of body) {
    const [from, ...values] = cells(l);
    rows.set(from as string, new Map(columns.map((c, i) => [c, values[i] as string])));
  }
  return { columns, rows };
}

/** The matrix key a README name stands for ("pod1" -> "isolated-namespace-demo/pod1",
 *  "pod4@eth1" -> "default/pod4@eth1": a pod's secondary interface). */
function resolver(keys: string[]): (name: string) => string {
  return (name) => {
    const found = keys.filter((k) => k === name || k.endsWith(`/${name}`));
    if (found.length !== 1) throw new Error(`README name "${name}" matches ${found.length} pods`);
    return found[0] as string;
  };
}

/** A pods cell: "yes", "no", or the protocols that answer (on IPv4 and IPv6), e.g. "tcp" or "tcp+udp" (NetworkPolicy ports). */
function cellExpectation(value: string | undefined, where: string): (field: (typeof CELL_FIELDS)[number]) => boolean {
  if (value !== undefined && /^(icmp|tcp|udp)(\+(icmp|tcp|udp))*$/.test(value)) {
    const open = new Set(value.split('+'));
    return (f) => open.has(f.replace(/6$/, ''));
  }
  const want = yes(value, where);
  return () => want;
}

function yes(value: string | undefined, where: string): boolean {
  if (value === 'yes') return true;
  if (value === 'no') return false;
  throw new Error(`${where}: expected "yes" or "no", found ${JSON.stringify(value)}`);
}

/** Every cell that differs from the README, as readable lines (empty = as documented). */
export function mismatches(m: Matrix, readme: string): string[] {
  const out: string[] = [];
  const pods = readmeTable(readme, 'pods');
  const keyOf = resolver(Object.keys(m.pods));
  const documented = [...pods.rows.keys()].map(keyOf).sort();
  if (JSON.stringify(documented) !== JSON.stringify(Object.keys(m.pods).sort())) {
    out.push(`pods: README has ${documented.join(', ')}, lab has ${Object.keys(m.pods).sort().join(', ')}`);
  }
  for (const [from, row] of pods.rows) {
    for (const [to, value] of row) {
      // A pod to itself, also between its interfaces (pod4 -> pod4@eth1): never probed.
      if (to.split('@')[0] === from.split('@')[0]) continue;
      const cell = m.pods[keyOf(from)]?.[keyOf(to)];
      // "n/a": the two interfaces share no address family, so the lab has no probe for them.
      if (value === 'n/a') {
        if (cell) out.push(`${from} -> ${to}: README says n/a, but the lab probed it`);
        continue;
      }
      if (!cell) {
        // a cell the lab did not probe is a difference, not a pass
        out.push(`${from} -> ${to}: not in the matrix`);
        continue;
      }
      const want = cellExpectation(value, `pods ${from} -> ${to}`);
      // null: a family one of the two interfaces lacks; only probed ones count.
      for (const f of CELL_FIELDS) if (cell[f] !== null && cell[f] !== want(f)) out.push(`${from} -> ${to} ${f}: ${cell[f]}`);
    }
  }
  const services = readmeTable(readme, 'services');
  const serviceColumns = services.columns.filter((c) => c !== 'dns');
  for (const [from, row] of services.rows) {
    const src = keyOf(from);
    const got = m.services[src] ?? {};
    const listed = [...serviceColumns, ...serviceColumns.map((c) => `${c}/v6`)].sort();
    if (JSON.stringify(Object.keys(got).sort()) !== JSON.stringify(listed)) {
      out.push(`${from}: probed ${Object.keys(got).sort().join(', ')}; README lists ${listed.join(', ')}`);
    }
    for (const c of serviceColumns) {
      const want = yes(row.get(c), `services ${from} -> ${c}`);
      for (const k of [c, `${c}/v6`]) if (got[k] !== want) out.push(`${from} -> ${k}: ${got[k]}`);
    }
    const dns = yes(row.get('dns'), `dns ${from}`);
    if (m.dns[src] !== dns) out.push(`${from} dns: ${m.dns[src]}`);
  }
  return out;
}

