// The connectivity matrix: one probe process per source interface (in its
// pod's netns), sources run in parallel with a bound; plus the
// human-readable table. Sources and destinations are the manifests' pods'
// interfaces (eth0, and Multus secondary ones as "ns/pod@<ifname>");
// lab-made pods (the cluster DNS) are reached through their Services only.
import { inNetns } from './exec.js';
import type { PlannedPod } from './plan.js';
import { CELL_FIELDS } from './protocol.js';
import type { DnsProbe, Matrix, MatrixCell, PortCell, PortProbe, ProbeRequest, ProbeResponse, ProbeTarget, ServiceProbe } from './protocol.js';
import { distScript } from './scripts.js';

export interface MatrixOptions {
  /** per probe (ICMP, TCP, UDP each) */
  timeoutMs?: number;
  /** source pods probed at the same time */
  concurrency?: number;
  /** more protocols and ports to probe on every destination (e.g. TCP/UDP/SCTP 80 and 81): MatrixCell.ports */
  ports?: PortProbe[];
  signal?: AbortSignal;
}

const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
const DEFAULT_CONCURRENCY = 4;
/** Mirrors MAX_PINGS in probe.ts: how many targets' pings run at once. */
const PINGS_PER_WAVE = 8;
const PROCESS_SLACK_MS = 5_000;

/** What to probe besides the pods. */
export interface ServiceTargets {
  services: ServiceProbe[];
  /** every NodePort on every node address */
  nodePorts?: ServiceProbe[];
  /** every hostPort on its node's addresses */
  hostPorts?: ServiceProbe[];
  dns?: DnsProbe;
}

/**
 * One row and column of the matrix: a pod's eth0 ("ns/pod") or one of its
 * Multus secondary interfaces ("ns/pod@<ifname>"), with its addresses.
 * `bind`: probes from it are sent from its addresses (every interface of a
 * pod that has secondary ones), not from the kernel's choice.
 */
interface MatrixInterface {
  key: string;
  pod: PlannedPod;
  v4?: string;
  v6?: string;
  bind: boolean;
  primary: boolean;
}

/** A pod's interfaces, eth0 first: the matrix's rows in plan order. */
function interfacesOf(pod: PlannedPod): MatrixInterface[] {
  const secondary = pod.attachments ?? [];
  return [
    { key: pod.key, pod, v4: pod.ips.v4, v6: pod.ips.v6, bind: secondary.length > 0, primary: true },
    ...secondary.map((a) => ({ key: `${pod.key}@${a.interface}`, pod, ...a.ips, bind: true, primary: false })),
  ];
}

/** What `src` probes of `dst`: the families both have (none shared: no probe). */
function targetOf(src: MatrixInterface, dst: MatrixInterface, ports: PortProbe[] = []): ProbeTarget | undefined {
  const v4 = src.v4 !== undefined ? dst.v4 : undefined;
  const v6 = src.v6 !== undefined ? dst.v6 : undefined;
  if (v4 === undefined && v6 === undefined) return undefined;
  const t = dst.pod;
  return {
    key: dst.key,
    ...(dst.primary ? {} : { reply: t.key }),
    ...(v4 !== undefined ? { v4 } : {}),
    ...(v6 !== undefined ? { v6 } : {}),
    tcpPort: t.probe.tcp,
    udpPort: t.probe.udp,
    ...(ports.length > 0 ? { ports } : {}),
  };
}

async function probeFrom(
  src: MatrixInterface,
  all: MatrixInterface[],
  extra: ServiceTargets,
  opts: Required<Omit<MatrixOptions, 'signal'>> & MatrixOptions,
): Promise<ProbeResponse> {
  const targets = all.filter((d) => d.pod.key !== src.pod.key).flatMap((d) => targetOf(src, d, opts.ports) ?? []);
  const req: ProbeRequest = {
    timeoutMs: opts.timeoutMs,
    targets,
    ...(src.bind ? { source: { ...(src.v4 !== undefined ? { v4: src.v4 } : {}), ...(src.v6 !== undefined ? { v6: src.v6 } : {}) } } : {}),
    services: extra.services,
    ...(extra.nodePorts?.length ? { nodePorts: extra.nodePorts } : {}),
    ...(extra.hostPorts?.length ? { hostPorts: extra.hostPorts } : {}),
    ...(extra.dns ? { dns: extra.dns } : {}),
  };
  const others = extra.services.length + (extra.nodePorts?.length ?? 0) + (extra.hostPorts?.length ?? 0);
  if (targets.length === 0 && others === 0 && !extra.dns) return { pods: {}, services: {} };
  const waves = Math.ceil(targets.length / PINGS_PER_WAVE) + 1;
  const { stdout } = await inNetns(src.pod.netns, process.execPath, [distScript('lab/probe.js'), '-'], {
    input: JSON.stringify(req),
    timeoutMs: waves * Math.max(opts.timeoutMs, 1_000) + PROCESS_SLACK_MS,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  try {
    return JSON.parse(stdout) as ProbeResponse;
  } catch {
    throw new Error(`probe from ${src.key} printed no JSON: ${stdout.slice(0, 200)}`);
  }
}

/**
 * Probes every ordered pair of interfaces of distinct pods (a pod's eth0 and
 * its secondary interfaces), and every Service and the DNS from each pod's eth0.
 */
export async function probeMatrix(
  pods: PlannedPod[],
  extra: ServiceTargets = { services: [] },
  options: MatrixOptions = {},
): Promise<Matrix> {
  const opts = {
    timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    concurrency: Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY),
    ports: options.ports ?? [],
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const all = pods.flatMap(interfacesOf);
  const results = new Map<string, ProbeResponse>();
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const src = all[next++] as MatrixInterface;
      results.set(src.key, await probeFrom(src, all, src.primary ? extra : { services: [] }, opts));
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, all.length) }, worker));
  const matrix: Matrix = { pods: {}, services: {}, nodePorts: {}, hostPorts: {}, dns: {} };
  /** One row of answers to `probes`; every probe must have an answer. */
  const answers = (src: string, probes: ServiceProbe[], got: Record<string, boolean> | undefined): Record<string, boolean> => {
    const row: Record<string, boolean> = {};
    for (const s of probes) {
      const ok = got?.[s.key];
      if (ok === undefined) throw new Error(`probe from ${src} returned nothing for ${s.key}`);
      row[s.key] = ok;
    }
    return row;
  };
  for (const src of all) {
    const row: Record<string, MatrixCell> = {};
    const res = results.get(src.key) ?? { pods: {}, services: {} };
    for (const dst of all) {
      if (dst.pod.key === src.pod.key || targetOf(src, dst) === undefined) continue;
      const cell = res.pods[dst.key];
      if (!cell) throw new Error(`probe from ${src.key} returned nothing for ${dst.key}`);
      row[dst.key] = cell;
    }
    matrix.pods[src.key] = row;
    if (!src.primary) continue;
    matrix.services[src.key] = answers(src.key, extra.services, res.services);
    if (extra.nodePorts?.length) matrix.nodePorts[src.key] = answers(src.key, extra.nodePorts, res.nodePorts);
    if (extra.hostPorts?.length) matrix.hostPorts[src.key] = answers(src.key, extra.hostPorts, res.hostPorts);
    if (extra.dns) matrix.dns[src.key] = res.dns === true;
  }
  return matrix;
}

const SELF = '·';

/** One family's marks; ' ' for a family not probed (null), not '-'. */
function familyText(cell: MatrixCell, v6: boolean): string {
  const s = v6 ? '6' : '';
  const mark = (f: string, c: string) => {
    const v = cell[`${f}${s}` as keyof MatrixCell];
    return v === null ? ' ' : v ? c : '-';
  };
  return [mark('icmp', 'i'), mark('tcp', 't'), mark('udp', 'u')].join('');
}

export function cellText(cell: MatrixCell): string {
  return `${familyText(cell, false)}/${familyText(cell, true)}`;
}

function allOpen(cell: MatrixCell): boolean {
  return CELL_FIELDS.every((f) => cell[f] !== false);
}

function allClosed(cell: MatrixCell): boolean {
  return CELL_FIELDS.every((f) => cell[f] !== true);
}

const NOT_PROBED = 'n/a';

/** Table for humans: rows = source, columns = destination, by number; then the Services. */
export function formatMatrix(matrix: Matrix): string {
  const keys = Object.keys(matrix.pods);
  const label = (i: number) => `[${i + 1}]`;
  const rowHead = keys.map((k, i) => `${label(i)} ${k}`);
  const headWidth = Math.max(4, ...rowHead.map((h) => h.length));
  const cellWidth = 'itu/itu'.length;
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
  const center = (s: string, w: number) => pad(' '.repeat(Math.floor((w - s.length) / 2)) + s, w);
  const lines = [
    'Connectivity matrix: rows = from, columns = to.',
    "Cell = IPv4/IPv6; i = ICMP, t = TCP, u = UDP answered, '-' = no answer, ' ' = family not on both interfaces, n/a = no family in common.",
    '',
    `${pad('from \\ to', headWidth)}  ${keys.map((_, i) => center(label(i), cellWidth)).join('  ')}`,
  ];
  let open = 0;
  let closed = 0;
  let partial = 0;
  keys.forEach((src, r) => {
    const cells = keys.map((dst) => {
      if (dst === src) return center(SELF, cellWidth);
      const cell = matrix.pods[src]?.[dst];
      // Interfaces of one pod (not probed), or no address family in common.
      if (cell === undefined) return center(src.split('@')[0] === dst.split('@')[0] ? SELF : NOT_PROBED, cellWidth);
      if (allOpen(cell)) open++;
      else if (allClosed(cell)) closed++;
      else partial++;
      return cellText(cell);
    });
    lines.push(`${pad(rowHead[r] as string, headWidth)}  ${cells.join('  ')}`);
  });
  lines.push('', `${open} pairs fully connected, ${closed} fully blocked, ${partial} partly.`);
  const ports = formatPorts(matrix);
  if (ports !== '') lines.push('', ports);
  const services = formatServices(matrix);
  if (services !== '') lines.push('', services);
  const nodePorts = formatFrontends(matrix, matrix.nodePorts ?? {}, 'NodePorts', 'NodePort on a node');
  if (nodePorts !== '') lines.push('', nodePorts);
  const hostPorts = formatFrontends(matrix, matrix.hostPorts ?? {}, 'hostPorts', "pod's hostPort on its node");
  if (hostPorts !== '') lines.push('', hostPorts);
  return lines.join('\n');
}

/**
 * The extra port probes (MatrixOptions.ports) for humans: rows = from,
 * columns = to; a cell has one mark per port probe, in the order listed
 * above the table: 'y' answered on IPv4 and IPv6, '-' on neither, '4' or
 * '6' on that family only.
 */
export function formatPorts(matrix: Matrix): string {
  const keys = Object.keys(matrix.pods);
  const probes = [...new Set(keys.flatMap((src) => Object.values(matrix.pods[src] ?? {}).flatMap((c) => Object.keys(c.ports ?? {}))))];
  if (probes.length === 0) return '';
  const label = (i: number) => `[${i + 1}]`;
  const rowHead = keys.map((k, i) => `${label(i)} ${k}`);
  const headWidth = Math.max(9, ...rowHead.map((h) => h.length));
  const width = Math.max(4, probes.length);
  const pad = (x: string, w: number) => x + ' '.repeat(Math.max(0, w - x.length));
  const mark = (c: PortCell | undefined): string => {
    if (c === undefined) return ' ';
    const v4 = c.v4 === true;
    const v6 = c.v6 === true;
    const both = (c.v4 === null || v4) && (c.v6 === null || v6);
    if (both && (v4 || v6)) return 'y';
    return v4 ? '4' : v6 ? '6' : '-';
  };
  const lines = [
    `Ports: rows = from, columns = to. Cell = one mark per probe, in this order: ${probes.join(' ')}; y = answered (IPv4 and IPv6), '-' = no answer, 4 or 6 = that family only.`,
    '',
    `${pad('from \\ to', headWidth)}  ${keys.map((_, i) => pad(label(i), width)).join('  ')}`,
  ];
  keys.forEach((src, r) => {
    const cells = keys.map((dst) => {
      const cell = matrix.pods[src]?.[dst];
      return pad(cell === undefined ? SELF : probes.map((p) => mark(cell.ports?.[p])).join(''), width);
    });
    lines.push(`${pad(rowHead[r] as string, headWidth)}  ${cells.join('  ')}`);
  });
  return lines.join('\n');
}

/** "<what> v4|v6 <address>" (nodePortProbeKey, hostPortProbeKey) split up. */
function splitFrontendKey(key: string): { column: string; family: '4' | '6'; ip: string } {
  const m = / v([46]) (\S+)$/.exec(key);
  if (!m) return { column: key, family: '4', ip: '' };
  return { column: key.slice(0, m.index), family: m[1] as '4' | '6', ip: m[2] as string };
}

/**
 * NodePorts or hostPorts for humans: one row per source pod, one column per
 * NodePort and node (or hostPort), listed below with the node addresses; a
 * cell has one mark per address, IPv4 ones / IPv6 ones: 'y' answered, '-' not.
 */
export function formatFrontends(matrix: Matrix, table: Record<string, Record<string, boolean>>, title: string, what: string): string {
  const rows = Object.keys(table);
  if (rows.length === 0) return '';
  const columns = new Map<string, { v4: Set<string>; v6: Set<string> }>();
  for (const r of rows) {
    for (const key of Object.keys(table[r] ?? {})) {
      const { column, family, ip } = splitFrontendKey(key);
      const c = columns.get(column) ?? { v4: new Set<string>(), v6: new Set<string>() };
      c[`v${family}`].add(ip);
      columns.set(column, c);
    }
  }
  const names = [...columns.keys()].sort();
  const label = (i: number) => `<${i + 1}>`;
  const rowHead = rows.map((r, i) => `[${Object.keys(matrix.pods).indexOf(r) + 1 || i + 1}] ${r}`);
  const headWidth = Math.max(9, ...rowHead.map((h) => h.length));
  const widthOf = (c: string) => (columns.get(c)?.v4.size ?? 0) + (columns.get(c)?.v6.size ?? 0) + 1;
  const width = Math.max(3, ...names.map((c, i) => Math.max(label(i).length, widthOf(c))));
  const pad = (x: string, w: number) => x + ' '.repeat(Math.max(0, w - x.length));
  const lines = [
    `${title}: rows = from, columns = ${what} (below). Cell = one mark per node address, IPv4 / IPv6; y = answered, '-' = no answer.`,
    '',
    `${pad('from \\ to', headWidth)}  ${names.map((_, i) => pad(label(i), width)).join('  ')}`,
  ];
  let reached = 0;
  let total = 0;
  rows.forEach((r, i) => {
    const row = table[r] ?? {};
    const cells = names.map((c) => {
      const col = columns.get(c) as { v4: Set<string>; v6: Set<string> };
      const marks = (family: '4' | '6', ips: Set<string>) =>
        [...ips]
          .map((ip) => {
            const v = row[`${c} v${family} ${ip}`];
            if (v === undefined) return ' ';
            total++;
            if (v) reached++;
            return v ? 'y' : '-';
          })
          .join('');
      return pad(`${marks('4', col.v4)}/${marks('6', col.v6)}`, width);
    });
    lines.push(`${pad(rowHead[i] as string, headWidth)}  ${cells.join('  ')}`);
  });
  lines.push(
    '',
    ...names.map((c, i) => {
      const col = columns.get(c) as { v4: Set<string>; v6: Set<string> };
      return `${pad(label(i), width)} ${c} (${[...col.v4].join(' ') || '-'} / ${[...col.v6].join(' ') || '-'})`;
    }),
  );
  lines.push('', `${reached} of ${total} ${title} probes answered.`);
  return lines.join('\n');
}

/**
 * Services for humans: one row per source pod, one column per Service port
 * (numbered, listed below the table); a cell shows IPv4/IPv6 ClusterIP:
 * 'y' answered, '-' not, ' ' no such ClusterIP. Last column: DNS.
 */
export function formatServices(matrix: Matrix): string {
  const rows = Object.keys(matrix.services);
  if (rows.length === 0) return '';
  const base = (k: string) => k.replace(/\/v6$/, '');
  const columns = [...new Set(rows.flatMap((r) => Object.keys(matrix.services[r] ?? {}).map(base)))].sort();
  const label = (i: number) => `<${i + 1}>`;
  const rowHead = rows.map((r, i) => `[${Object.keys(matrix.pods).indexOf(r) + 1 || i + 1}] ${r}`);
  const headWidth = Math.max(9, ...rowHead.map((h) => h.length));
  const width = Math.max(3, ...columns.map((_, i) => label(i).length));
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
  const mark = (v: boolean | undefined) => (v === undefined ? ' ' : v ? 'y' : '-');
  const hasDns = Object.keys(matrix.dns).length > 0;
  const lines = [
    'Services: rows = from, columns = Service port (below). Cell = IPv4/IPv6 ClusterIP; y = answered, \'-\' = no answer.',
    '',
    `${pad('from \\ to', headWidth)}  ${columns.map((_, i) => pad(label(i), width)).join('  ')}${hasDns ? '  dns' : ''}`,
  ];
  let reached = 0;
  let total = 0;
  rows.forEach((r, i) => {
    const row = matrix.services[r] ?? {};
    const cells = columns.map((c) => {
      const v4 = row[c];
      const v6 = row[`${c}/v6`];
      for (const v of [v4, v6]) if (v !== undefined) (total++, v && reached++);
      return pad(`${mark(v4)}/${mark(v6)}`, width);
    });
    const dns = hasDns ? `  ${matrix.dns[r] ? 'y' : '-'}` : '';
    lines.push(`${pad(rowHead[i] as string, headWidth)}  ${cells.join('  ')}${dns}`);
  });
  lines.push('', ...columns.map((c, i) => `${pad(label(i), width)} ${c}`));
  const dnsOk = Object.values(matrix.dns).filter(Boolean).length;
  lines.push('', `${reached} of ${total} Service probes answered${hasDns ? `; DNS resolved from ${dnsOk} of ${Object.keys(matrix.dns).length} pods` : ''}.`);
  return lines.join('\n');
}
