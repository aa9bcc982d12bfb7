// NetworkPolicy conformance (issue 16), in the style of the upstream
// Kubernetes network-policy tests (test/e2e/network/netpol): the 3x3 grid
// (namespaces x, y, z labelled ns=<name>; pods a, b, c labelled pod=<name>;
// each serving TCP, UDP and SCTP on 80 and 81) in the lab, on 1 node and on 2
// (pods split across the nodes). Per case: the case's policies are written
// into the lab's manifests directory, the agents apply them, and the full
// matrix is probed with real packets (ICMP, TCP/UDP/SCTP 80 and 81, IPv4 and
// IPv6; SCTP as raw INITs, src/lab/sctp.ts) and compared, cell by cell, with
// an independent oracle (helpers/netpol-oracle.ts, Kubernetes semantics from
// the spec) AND the segmentation the case sets up; a mismatch prints a table.
// Pods' and nodes' neighbour tables are emptied before each probe, so IPv6
// neighbour discovery has to get through each case's policies too.
// Each case's denials have their positive control in the same matrix (the
// cells the oracle opens), and the first case (no policy) is the grid all open.
// ICMP is probed too (ping): only a rule without ports allows it, and the reply
// of an allowed echo passes, as the reply of any allowed connection does.
// Then: policies added and removed under a running connection.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labUp } from '../src/lab/lab.js';
import { probeMatrix } from '../src/lab/matrix.js';
import { agentStatusFile } from '../src/lab/names.js';
import { portProbeKey, type Matrix, type MatrixCell } from '../src/lab/protocol.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf } from './helpers/lab.js';
import { freshTmpDir } from './helpers/manifests.js';
import { GRID_KEYS, GRID_PROBES, gridForOracle, gridManifests, type GridOptions } from './helpers/netpol-grid.js';
import { NetpolOracle, type Connection, type Family, type NetworkPolicy, type Protocol } from './helpers/netpol-oracle.js';

const ISOLATED = { 'vrfwall.dev/isolated': 'true' };
/** How long the agents get to pick up a change before the matrix is probed anyway (it then shows what they did). */
const APPLY_TIMEOUT_MS = 5_000;
/** A reconcile that was under way when the file changed is followed by the one that reads it: wait for quiet. */
const QUIET_MS = 300;
/** Source pods probed at once (each runs its probes in parallel). */
const CONCURRENCY = 5;

type Ip = (key: string) => { v4: string; v6: string };

interface NetpolCase {
  name: string;
  policies: (ip: Ip) => NetworkPolicy[];
  /** namespaces isolated by segmentation in this case (their pods reach only each other) */
  isolated?: string[];
}

const np = (namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace, name },
  spec,
});
const pod = (name: string) => ({ matchLabels: { pod: name } });
const ns = (name: string) => ({ matchLabels: { ns: name } });

const CASES: NetpolCase[] = [
  { name: 'no policy: the whole grid is open', policies: () => [] },
  { name: 'default deny ingress', policies: () => [np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })] },
  { name: 'default deny egress', policies: () => [np('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })] },
  {
    name: 'allow ingress from a namespace by label',
    policies: () => [np('x', 'from-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: ns('y') }] }] })],
  },
  {
    name: 'combined pod-and-namespace selectors (AND in one peer, OR across peers)',
    policies: () => [
      np('x', 'from-yb-and-xc', {
        podSelector: pod('a'),
        ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('b') }, { podSelector: pod('c') }] }],
      }),
    ],
  },
  {
    name: 'matchExpressions (In, NotIn, DoesNotExist)',
    policies: () => [
      np('x', 'not-y-b-or-c', {
        podSelector: pod('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] },
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
              },
            ],
          },
        ],
      }),
      np('x', 'c-to-z', {
        podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['c'] }] },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['z'] }] } }] },
          { to: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'DoesNotExist' }] } }] },
        ],
      }),
    ],
  },
  {
    name: 'ipBlock with except (per family; pod addresses match ipBlock)',
    policies: (ip) => [
      np('x', 'blocks', {
        podSelector: pod('a'),
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '10.244.0.0/16', except: [`${ip('y/b').v4}/32`] } },
              { ipBlock: { cidr: 'fd00:10:244::/48', except: [`${ip('z/c').v6}/128`] } },
            ],
          },
        ],
      }),
    ],
  },
  {
    name: 'named ports (resolved on the destination, with their protocol)',
    policies: () => [
      np('x', 'named', {
        podSelector: pod('a'),
        ingress: [
          {
            ports: [
              { port: 'serve-81-tcp' },
              { protocol: 'UDP', port: 'serve-80-udp' },
              { protocol: 'SCTP', port: 'serve-81-sctp' },
              // a UDP port's name asked for over TCP: no port at all
              { protocol: 'TCP', port: 'serve-80-udp' },
            ],
          },
        ],
      }),
      np('y', 'egress-named', { podSelector: pod('b'), egress: [{ to: [{ namespaceSelector: ns('z') }], ports: [{ port: 'serve-80-tcp' }] }] }),
    ],
  },
  {
    name: 'port ranges (endPort)',
    policies: () => [
      np('y', 'ranges', {
        podSelector: {},
        ingress: [
          {
            ports: [
              { protocol: 'TCP', port: 81, endPort: 90 },
              { protocol: 'UDP', port: 1, endPort: 80 },
              { protocol: 'SCTP', port: 70, endPort: 80 },
            ],
          },
        ],
      }),
    ],
  },
  {
    name: 'egress to a specific port',
    policies: () => [
      np('x', 'a-to-y', {
        podSelector: pod('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: ns('y') }], ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'SCTP', port: 81 }] }],
      }),
      np('z', 'b-udp-81', { podSelector: pod('b'), policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 81 }] }] }),
    ],
  },
  {
    name: 'deny all, then allow within the namespace (ingress and egress)',
    policies: () => [
      np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
      np('x', 'in-from-x', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
      np('x', 'out-to-x', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }] }] }),
    ],
  },
  {
    name: 'policies are additive',
    policies: () => [
      np('x', 'deny-a', { podSelector: pod('a'), policyTypes: ['Ingress'] }),
      np('x', 'a-from-y-tcp-80', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('y') }], ports: [{ port: 80 }] }] }),
      np('x', 'a-from-z-udp-81', { podSelector: pod('a'), ingress: [{ from: [{ namespaceSelector: ns('z') }], ports: [{ protocol: 'UDP', port: 81 }] }] }),
    ],
  },
  {
    name: 'isolation: a policy allowing everything never opens what segmentation denies',
    isolated: ['z'],
    policies: () => [
      np('z', 'allow-everything', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }] }],
        egress: [{ to: [{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }] }],
      }),
    ],
  },
];

/** One probe of a cell: how to read it from a MatrixCell, and what it asks the oracle. */
interface CellProbe {
  label: string;
  protocol: Protocol;
  port?: number;
  read(cell: MatrixCell, family: Family): boolean | null | undefined;
}

const CELL_PROBES: CellProbe[] = [
  { label: 'ICMP', protocol: 'ICMP', read: (c, f) => (f === 'v4' ? c.icmp : c.icmp6) },
  // the matrix's own TCP and UDP probes are on each pod's first port, 80
  { label: 'tcp80', protocol: 'TCP', port: 80, read: (c, f) => (f === 'v4' ? c.tcp : c.tcp6) },
  { label: 'udp80', protocol: 'UDP', port: 80, read: (c, f) => (f === 'v4' ? c.udp : c.udp6) },
  ...GRID_PROBES.map((p) => ({ label: portProbeKey(p), protocol: p.protocol, port: p.port, read: (c: MatrixCell, f: Family) => c.ports?.[portProbeKey(p)]?.[f] })),
];

interface Mismatch {
  from: string;
  to: string;
  probe: string;
  family: Family;
  got: boolean | null | undefined;
  want: boolean;
  why: string;
}

/** Every probed cell against segmentation AND the oracle. */
function compare(m: Matrix, oracle: NetpolOracle, isolated: string[]): Mismatch[] {
  const zone = (key: string) => {
    const n = key.split('/')[0] as string;
    return isolated.includes(n) ? n : '';
  };
  const out: Mismatch[] = [];
  for (const from of GRID_KEYS) {
    for (const to of GRID_KEYS) {
      if (from === to) continue;
      const cell = m.pods[from]?.[to];
      for (const p of CELL_PROBES) {
        for (const family of ['v4', 'v6'] as const) {
          const c: Connection = { from, to, family, protocol: p.protocol, ...(p.port !== undefined ? { port: p.port } : {}) };
          const segment = zone(from) === zone(to);
          const egress = oracle.egressAllows(c);
          const ingress = oracle.ingressAllows(c);
          const want = segment && egress && ingress;
          const got = cell === undefined ? undefined : p.read(cell, family);
          if (got !== want) {
            const why = `${segment ? '' : 'segmentation denies; '}egress of ${from} ${egress ? 'allows' : 'denies'}, ingress of ${to} ${ingress ? 'allows' : 'denies'}`;
            out.push({ from, to, probe: p.label, family, got, want, why });
          }
        }
      }
    }
  }
  return out;
}

/** The mismatches as a table (rows from, columns to; one mark per probe) and a list. */
function diffTable(bad: Mismatch[]): string {
  const at = new Map<string, Mismatch[]>();
  for (const b of bad) at.set(`${b.from} ${b.to} ${b.probe}`, [...(at.get(`${b.from} ${b.to} ${b.probe}`) ?? []), b]);
  const width = CELL_PROBES.length;
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
  const lines = [
    `Mismatches: rows = from, columns = to; one mark per probe (${CELL_PROBES.map((p) => p.label).join(' ')}):`,
    "'.' as expected, 'X' expected open but closed, '!' expected closed but open (either family).",
    '',
    `${pad('', 5)} ${GRID_KEYS.map((k) => pad(k, width)).join(' ')}`,
  ];
  for (const from of GRID_KEYS) {
    const cells = GRID_KEYS.map((to) => {
      if (to === from) return pad('·', width);
      return CELL_PROBES.map((p) => {
        const m = at.get(`${from} ${to} ${p.label}`);
        return m === undefined ? '.' : m[0]?.want ? 'X' : '!';
      }).join('');
    });
    lines.push(`${pad(from, 5)} ${cells.join(' ')}`);
  }
  lines.push('', ...bad.slice(0, 40).map((b) => `${b.from} -> ${b.to} ${b.probe} ${b.family}: got ${String(b.got)}, expected ${b.want} (${b.why})`));
  if (bad.length > 40) lines.push(`... and ${bad.length - 40} more`);
  return lines.join('\n');
}

/** Cells open in either matrix (every cell of `a` is in `b`: the same pods and probes). */
function mergeOpen(a: Matrix, b: Matrix): Matrix {
  const or = (x: boolean | null, y: boolean | null | undefined) => (x === null ? null : x || y === true);
  const pods: Matrix['pods'] = {};
  for (const [from, row] of Object.entries(a.pods)) {
    pods[from] = {};
    for (const [to, cell] of Object.entries(row)) {
      const other = b.pods[from]?.[to];
      const merged: MatrixCell = {
        icmp: or(cell.icmp, other?.icmp),
        tcp: or(cell.tcp, other?.tcp),
        udp: or(cell.udp, other?.udp),
        icmp6: or(cell.icmp6, other?.icmp6),
        tcp6: or(cell.tcp6, other?.tcp6),
        udp6: or(cell.udp6, other?.udp6),
      };
      if (cell.ports) {
        merged.ports = Object.fromEntries(
          Object.entries(cell.ports).map(([k, v]) => [k, { v4: or(v.v4, other?.ports?.[k]?.v4), v6: or(v.v6, other?.ports?.[k]?.v6) }]),
        );
      }
      pods[from][to] = merged;
    }
  }
  return { ...a, pods };
}

/**
 * Empties the neighbour tables of the grid's pods and of the nodes, so every case starts as a pod that was just
 * started under its policies would: IPv6 neighbour discovery with the node has to pass the policies (design section
 * 3: it keeps working), not only already-resolved entries.
 */
async function flushNeighbours(state: LabState): Promise<void> {
  const namespaces = [...state.plan.nodes.map((n) => n.netns), ...state.plan.pods.filter((p) => GRID_KEYS.includes(p.key)).map((p) => p.netns)];
  await Promise.all(namespaces.map((ns) => promisify(execFile)('ip', ['-n', ns, 'neigh', 'flush', 'all'])));
}

/** Writes a file whole (readers see the old or the new content, never half). */
function writeAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`); // dot files are not manifests
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function generations(state: LabState): number[] {
  return state.agents.map((a) => {
    try {
      return (JSON.parse(fs.readFileSync(agentStatusFile(a.instance), 'utf8')) as { generation?: number }).generation ?? 0;
    } catch {
      return 0;
    }
  });
}

/**
 * Until every agent has reconciled since `before` and then stayed quiet for
 * QUIET_MS. Returns a note when they did not within APPLY_TIMEOUT_MS (an agent
 * without NetworkPolicy support may not react at all): the matrix then shows it.
 */
async function untilApplied(state: LabState, before: number[]): Promise<string | undefined> {
  const t0 = Date.now();
  let last = generations(state);
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const now = generations(state);
    if (now.join() !== last.join()) {
      last = now;
      since = Date.now();
    }
    const moved = now.every((g, i) => g > (before[i] ?? 0));
    if (moved && Date.now() - since >= QUIET_MS) return undefined;
    if (Date.now() - t0 > APPLY_TIMEOUT_MS) return `agents did not reconcile within ${APPLY_TIMEOUT_MS} ms (generations ${before.join(',')} -> ${now.join(',')})`;
  }
}

function policiesYaml(policies: NetworkPolicy[]): string {
  // JSON is YAML: one document per policy
  return policies.map((p) => JSON.stringify(p, null, 2)).join('\n---\n') + '\n';
}

describe.each([
  { nodes: 1, lab: 'npl1' },
  { nodes: 2, lab: 'npl2' },
])('NetworkPolicy truth table on $nodes node(s) (lab $lab)', ({ nodes, lab }) => {
  let tmp: string;
  let dir: string;
  let state: LabState;
  let gridText = '';
  let policiesText = policiesYaml([]);
  const ip: Ip = (key) => podOf(state, key).ips;
  const timings: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    await labDown(lab); // leftovers of a killed run
    tmp = await freshTmpDir(`vrfwall-${lab}-`);
    dir = path.join(tmp, 'manifests');
    fs.mkdirSync(dir);
    gridText = gridManifests();
    fs.writeFileSync(path.join(dir, 'grid.yaml'), gridText);
    const t0 = Date.now();
    const logs: string[] = [];
    state = await labUp(dir, { lab, nodes, log: (m) => logs.push(m) });
    // nothing alarming about the manifests (the policies come later and must not be warned about either)
    expect(logs.filter((l) => /warning/i.test(l))).toEqual([]);
    timings.push(`lab up ${Date.now() - t0} ms`);
  }, 120_000);

  afterAll(async () => {
    console.info(`lab-netpol on ${nodes} node(s): ${timings.join('; ')}`);
    await labDown(lab);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  /** Writes the case's grid labels and policies; waits for the agents. */
  async function apply(policies: NetworkPolicy[], opts: GridOptions): Promise<string | undefined> {
    const grid = gridManifests(opts);
    const text = policiesYaml(policies);
    if (grid === gridText && text === policiesText) return undefined;
    const before = generations(state);
    if (grid !== gridText) writeAtomic(path.join(dir, 'grid.yaml'), grid);
    const file = path.join(dir, 'policies.yaml');
    if (policies.length === 0) fs.rmSync(file, { force: true });
    else writeAtomic(file, text);
    gridText = grid;
    policiesText = text;
    return untilApplied(state, before);
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const t0 = Date.now();
      const opts: GridOptions = { namespaceLabels: Object.fromEntries((c.isolated ?? []).map((n) => [n, ISOLATED])) };
      const policies = c.policies(ip);
      const grid = gridForOracle(ip, opts);
      const oracle = new NetpolOracle(grid.namespaces, grid.pods, policies);
      const note = await apply(policies, opts);
      const t1 = Date.now();
      const pods = state.plan.pods.filter((p) => GRID_KEYS.includes(p.key));
      await flushNeighbours(state);
      let m = await probeMatrix(pods, { services: [] }, { ports: GRID_PROBES, concurrency: CONCURRENCY });
      let bad = compare(m, oracle, c.isolated ?? []);
      let again = '';
      if (bad.some((b) => b.want)) {
        // A reply lost on a busy machine is not a denial: probe once more, slower; a cell open in either run is
        // open (so a leak seen once stays a leak, and a cell closed twice is closed).
        const second = await probeMatrix(pods, { services: [] }, { ports: GRID_PROBES, concurrency: 3, timeoutMs: 2_000 });
        m = mergeOpen(m, second);
        bad = compare(m, oracle, c.isolated ?? []);
        again = ' (probed twice)';
      }
      timings.push(`${c.name.split(' (')[0]}: apply ${t1 - t0} ms, probe ${Date.now() - t1} ms${again}`);
      if (bad.length > 0) console.error(`${lab} "${c.name}"${note ? ` (${note})` : ''}:\n${diffTable(bad)}`);
      expect(bad.length, `${bad.length} cells differ from the oracle${note ? `; ${note}` : ''}`).toBe(0);
    });
  }

  it('policies added and removed under a running connection: one still allowed keeps running, one no longer allowed stops at its next packet', async () => {
    const PORT = 7000;
    const procs: ChildProcess[] = [];
    const inPod = (key: string, script: string): ChildProcess => {
      const p = spawn('ip', ['netns', 'exec', podOf(state, key).netns, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      procs.push(p);
      return p;
    };
    const lines = (p: ChildProcess): (() => Promise<string>) => {
      const queue: string[] = [];
      const waiting: ((l: string) => void)[] = [];
      let buf = '';
      p.stdout!.setEncoding('utf8');
      p.stdout!.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiting.shift();
          if (w) w(l);
          else queue.push(l);
        }
      });
      return () =>
        new Promise((res, rej) => {
          const l = queue.shift();
          if (l !== undefined) return res(l);
          const t = setTimeout(() => rej(new Error('no line from the pod within 10 s')), 10_000);
          waiting.push((x) => {
            clearTimeout(t);
            res(x);
          });
        });
    };
    /** A client in `from` with one connection to x/b:PORT; each line on stdin sends an echo. */
    const client = (from: string) => {
      const p = inPod(from, `import net from 'node:net';
        import readline from 'node:readline';
        const s = net.connect({ host: '${ip('x/b').v4}', port: ${PORT} });
        s.setNoDelay(true);
        const echo = (m) => new Promise((res) => {
          const t = setTimeout(() => res('timeout'), 2000);
          s.once('data', (d) => { clearTimeout(t); res(String(d)); });
          s.write(m);
        });
        const first = setTimeout(() => console.log('connect timeout'), 2000);
        s.on('error', (e) => console.log('error ' + e.code));
        s.on('connect', async () => {
          clearTimeout(first);
          console.log('first ' + (await echo('one')));
          for await (const l of readline.createInterface({ input: process.stdin })) console.log('again ' + (await echo(l)));
        });`);
      return { next: lines(p), send: (l: string) => p.stdin!.write(`${l}\n`) };
    };
    const denyX = np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
    const allowAtoB = np('x', 'b-from-a', { podSelector: pod('b'), ingress: [{ from: [{ podSelector: pod('a') }], ports: [{ port: PORT }] }] });
    try {
      await apply([], {});
      const server = inPod('x/b', `import net from 'node:net';
        net.createServer((s) => s.on('data', (d) => s.write(d))).listen(${PORT}, '::', () => console.log('listening'));`);
      expect(await lines(server)()).toBe('listening');
      const a = client('x/a');
      expect(await a.next()).toBe('first one'); // control: open without policy

      // x/b isolated for ingress, x/a still allowed on PORT: the connection keeps running ...
      expect(await apply([denyX, allowAtoB], {})).toBeUndefined();
      a.send('two');
      expect(await a.next()).toBe('again two');
      // ... and the policy is in force: x/c, not allowed, cannot connect (x/a's new connection can: control)
      const c = client('x/c');
      expect(await c.next()).toBe('connect timeout');
      const a2 = client('x/a');
      expect(await a2.next()).toBe('first one');

      // the allowing policy removed: the running connection stops at its next packet
      expect(await apply([denyX], {})).toBeUndefined();
      a.send('three');
      expect(await a.next()).toBe('again timeout');

      // no policy: the server was there all along (control for the timeout above)
      expect(await apply([], {})).toBeUndefined();
      const a3 = client('x/a');
      expect(await a3.next()).toBe('first one');
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  });
});
