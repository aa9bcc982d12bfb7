// Flow export (issue 15 item 3), no root: the record is the JSON of
// `vrfwall flows -o json`; the field mask and the GetFlows filters; size
// rotation with the oldest file dropped; a flow evicted from the store was
// exported first with its last counters; a slow disk drops and counts records
// without blocking the store; a disk that fails later is counted and
// recovers; bad settings are ConfigErrors (exit 2) naming the setting.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from '../src/agent/config.js';
import { toFlowMsg } from '../src/api/convert.js';
import type { FlowMsg, GetFlowsResponse } from '../src/api/messages.js';
import { loadApi } from '../src/api/proto.js';
import { compileExportSelection, openFlowExport, parseFilterList, type FlowExportConfig } from '../src/flows/export-settings.js';
import { FlowExporter, exportLine } from '../src/flows/exporter.js';
import { FieldMaskError, parseFieldMask } from '../src/flows/field-mask.js';
import { RotatingFile, type ExportSink } from '../src/flows/rotating-file.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow, FlowEndpoint } from '../src/flows/types.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-export-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `d${dirs++}-`));

const ep = (p: Partial<FlowEndpoint>): FlowEndpoint => ({ ip: '', port: 0, namespace: '', pod: '', network: '', node: '', service: '', kind: 'pod', interface: '', ...p });

function flow(i: number, p: Partial<Flow> = {}): Flow {
  return {
    id: `f${i}`,
    node: 'node1',
    ifindex: 3,
    source: ep({ ip: `10.244.1.${i % 250}`, port: 40000 + (i % 20000), namespace: 'default', pod: `pod${i}`, network: 'default/default-podnetwork', node: 'node1' }),
    destination: ep({ ip: '10.244.2.10', port: 8080, namespace: 'iso', pod: 'pod1', network: 'iso/default-podnetwork', node: 'node2', interface: 'net1' }),
    protocol: 6,
    protocolName: 'tcp',
    ethertype: 0x0800,
    direction: 'EGRESS',
    verdict: 'DROPPED',
    dropReason: 'ISOLATED',
    allowRule: '',
    code: 1,
    forward: { packets: 3, bytes: 222, droppedPackets: 3, tcpFlags: 2 },
    reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: 1_796_000_000_000,
    lastSeenMs: 1_796_000_000_500 + i,
    ...p,
  };
}

const ALL = { predicate: () => true, mask: parseFieldMask([]) };
const lines = (file: string): FlowMsg[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FlowMsg);

/** A sink that holds each write until released, or fails it. */
class FakeSink implements ExportSink {
  readonly current = '/fake';
  rotations = 0;
  readonly data: string[] = [];
  private pending: (() => void)[] = [];
  blocked = true;
  failWith: Error | undefined;
  async write(d: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    if (this.blocked) await new Promise<void>((resolve) => this.pending.push(resolve));
    this.data.push(d);
  }
  release(): void {
    this.blocked = false;
    for (const r of this.pending.splice(0)) r();
  }
  get waiting(): number {
    return this.pending.length;
  }
  async close(): Promise<void> {}
}

describe('the export record', () => {
  it('is the JSON `vrfwall flows -o json` prints: the Flow message as the client decodes it', () => {
    const f = flow(7, { verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK', forward: { packets: 2 ** 40, bytes: 2 ** 50, droppedPackets: 0, tcpFlags: 0x12 } });
    const rpc = loadApi().flowService.GetFlows!;
    const printed = JSON.stringify((rpc.responseDeserialize(rpc.responseSerialize({ flow: toFlowMsg(f) })) as GetFlowsResponse).flow) + '\n';
    expect(exportLine(f, parseFieldMask([]))).toBe(printed);
    // control: a different flow prints differently
    expect(exportLine(flow(8), parseFieldMask([]))).not.toBe(printed);
  });

  it('the field mask keeps the named fields in the message order; snake_case and whole messages accepted', () => {
    const m = JSON.parse(exportLine(flow(1), parseFieldMask(['verdict', 'source.pod', 'drop_reason', 'forward.packets', 'source.namespace', 'destination']))) as Record<string, unknown>;
    expect(Object.keys(m)).toEqual(['source', 'destination', 'verdict', 'dropReason', 'forward']);
    expect(m.source).toEqual({ namespace: 'default', pod: 'pod1' });
    expect(m.destination).toEqual(toFlowMsg(flow(1)).destination);
    expect(m.forward).toEqual({ packets: 3 });
    expect(m.verdict).toBe('VERDICT_DROPPED');
  });

  it.each([
    [['verdicts'], /field "verdicts": not a field of Flow/],
    [['source.bogus'], /not a field of source/],
    [['verdict.x'], /verdict has no sub-fields/],
    [['source.pod.x'], /at most two levels/],
  ])('mask %j is refused', (paths, msg) => {
    expect(() => parseFieldMask(paths)).toThrow(FieldMaskError);
    expect(() => parseFieldMask(paths)).toThrow(msg);
  });

  it('allow/deny filters are GetFlows filters: JSON lists, proto or JSON field names', () => {
    const { predicate } = compileExportSelection({
      allow: parseFilterList('[{"verdict": ["DROPPED"]}, {"namespace": "kube-system"}]'),
      deny: parseFilterList('{"source_pod": ["default/pod2"]}'),
      fields: [],
    });
    expect(predicate(flow(1))).toBe(true); // dropped
    expect(predicate(flow(2))).toBe(false); // denied: default/pod2
    expect(predicate(flow(3, { verdict: 'ALLOWED', dropReason: '' }))).toBe(false); // not allowed
    expect(predicate(flow(4, { verdict: 'ALLOWED', destination: ep({ namespace: 'kube-system' }) }))).toBe(true);
    expect(() => parseFilterList('[{"verdict": "DROPPED",}]')).toThrow(/not JSON/);
    expect(() => parseFilterList('[{"verdicts": ["DROPPED"]}]')).toThrow(/\[0\]\.verdicts: not a filter field/);
    expect(() => parseFilterList('[{"port": ["80"]}]')).toThrow(/\[0\]\.port\[0\]: must be a number/);
    expect(() => compileExportSelection({ allow: parseFilterList('[{"verdict": ["MAYBE"]}]'), deny: [], fields: [] })).toThrow(/allow\[0\]\.verdict\[0\]/);
  });

  it('a flow the filter leaves out is counted, not written', async () => {
    const sink = new FakeSink();
    sink.release();
    const x = new FlowExporter(sink, { ...ALL, predicate: (f) => f.id !== 'f2', maxQueueRecords: 10 });
    for (const i of [1, 2, 3]) x.offer(flow(i));
    await x.flush();
    expect(sink.data.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as FlowMsg).id)).toEqual(['f1', 'f3']);
    expect(x.stats()).toMatchObject({ written: 2, filtered: 1, dropped: 0 });
  });
});

describe('rotation', () => {
  it('file, file.1 ... file.n by size; the oldest is dropped; no file past the size; every line whole', async () => {
    const file = path.join(freshDir(), 'flows.jsonl');
    const line = exportLine(flow(1), parseFieldMask([]));
    const maxBytes = line.length * 3 + 10; // three records a file
    const x = new FlowExporter(new RotatingFile(file, { maxBytes, maxFiles: 2 }), { ...ALL, maxQueueRecords: 1000, batchBytes: 1 });
    for (let i = 1; i <= 20; i++) x.offer(flow(i));
    await x.close();
    const names = fs.readdirSync(path.dirname(file)).sort();
    expect(names).toEqual(['flows.jsonl', 'flows.jsonl.1', 'flows.jsonl.2']);
    for (const n of names) expect(fs.statSync(path.join(path.dirname(file), n)).size).toBeLessThanOrEqual(maxBytes);
    // newest in the file, then .1, then .2 (oldest kept): 20 records, 3 a file, 6 rotations
    const ids = (n: string) => lines(path.join(path.dirname(file), n)).map((m) => m.id);
    expect(ids('flows.jsonl')).toEqual(['f19', 'f20']);
    expect(ids('flows.jsonl.1')).toEqual(['f16', 'f17', 'f18']);
    expect(ids('flows.jsonl.2')).toEqual(['f13', 'f14', 'f15']);
    expect(x.stats()).toMatchObject({ written: 20, dropped: 0, rotations: 6, file });
  });

  it('appends to an existing file and rotates it when full; max files 0 starts the file over', async () => {
    const file = path.join(freshDir(), 'f.jsonl');
    fs.writeFileSync(file, 'x'.repeat(90) + '\n');
    const sink = new RotatingFile(file, { maxBytes: 100, maxFiles: 0 });
    await sink.write('a'.repeat(5) + '\n'); // fits: 97 bytes
    expect(fs.readFileSync(file, 'utf8')).toMatch(/a{5}\n$/);
    await sink.write('b'.repeat(9) + '\n'); // does not: started over
    await sink.close();
    expect(fs.readFileSync(file, 'utf8')).toBe('b'.repeat(9) + '\n');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['f.jsonl']);
    expect(sink.rotations).toBe(1);
  });
});

describe('eviction', () => {
  it('a flood of new flows evicts earlier flows from the store, and the file holds every earlier flow with its last counters', async () => {
    const file = path.join(freshDir(), 'flows.jsonl');
    const store = new FlowStore(100);
    const x = new FlowExporter(new RotatingFile(file, { maxBytes: 1e9, maxFiles: 1 }), { ...ALL, maxQueueRecords: 1e6 });
    store.subscribe((f) => x.offer(f));
    // 100 flows, each then updated twice with new counters (as the reader's polls would)
    for (let i = 0; i < 100; i++) store.put(flow(i));
    for (const round of [1, 2]) {
      for (let i = 0; i < 100; i++) store.put(flow(i, { forward: { packets: 10 * round + i, bytes: 1000 * round + i, droppedPackets: 10 * round + i, tcpFlags: 2 }, lastSeenMs: 1_796_000_100_000 + round }));
    }
    // one pod floods 10,000 new flows: the store keeps 100
    for (let i = 0; i < 10_000; i++) store.put(flow(1000 + i, { source: ep({ ip: '10.244.9.9', port: i % 60000, namespace: 'flood', pod: 'flooder' }) }));
    await x.close();
    // positive control: the earlier flows are gone from memory
    expect(store.stats()).toMatchObject({ held: 100, evicted: 10_000 });
    for (let i = 0; i < 100; i++) expect(store.get(`f${i}`)).toBeUndefined();
    // ... and the file has each with the counters of its last update
    const last = new Map<string, FlowMsg>();
    for (const m of lines(file)) last.set(m.id, m);
    for (let i = 0; i < 100; i++) {
      const m = last.get(`f${i}`);
      expect(m?.forward).toEqual({ packets: 20 + i, bytes: 2000 + i, droppedPackets: 20 + i, tcpFlags: 2 });
      expect(m?.lastSeenMs).toBe(1_796_000_100_002);
    }
    expect(last.size).toBe(10_100);
    expect(x.stats()).toMatchObject({ written: 300 + 10_000, dropped: 0 });
  });
});

describe('back-pressure and failures', () => {
  it('a sink that blocks: offers return at once, the queue stays within its bound, the rest is dropped and counted, then drained', async () => {
    const sink = new FakeSink();
    let now = 1000;
    const x = new FlowExporter(sink, { ...ALL, maxQueueRecords: 10, batchBytes: 1, now: () => now });
    for (let i = 0; i < 50; i++) x.offer(flow(i)); // synchronous: none of these waits for the sink
    await Promise.resolve();
    expect(sink.waiting).toBe(1); // the first batch (one record) is in the sink, blocked
    now = 4500;
    const s = x.stats();
    expect(s.queued).toBe(10);
    expect(s.dropped).toBe(40);
    expect(s.written).toBe(0);
    expect(s.lagMs).toBe(3500); // the oldest queued record waits since t=1000
    sink.release();
    await x.flush();
    expect(x.stats()).toMatchObject({ written: 10, dropped: 40, queued: 0, lagMs: 0 });
    // the records kept are the first ten (new ones are the ones dropped)
    expect(sink.data.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as FlowMsg).id)).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
  });

  it('a full queue drops the flooder\'s records first: another source\'s new records still get in', async () => {
    const sink = new FakeSink();
    const x = new FlowExporter(sink, { ...ALL, maxQueueRecords: 10, batchBytes: 1 });
    const from = (ip: string, i: number): Flow => flow(i, { id: `${ip}-${i}`, source: ep({ ip, port: 40000 + i, namespace: 'default', pod: ip, network: 'default/default-podnetwork', node: 'node1' }) });
    for (let i = 0; i < 100; i++) x.offer(from('10.244.1.66', i)); // the flood fills the queue
    for (let i = 0; i < 3; i++) x.offer(from('10.244.1.7', i)); // a victim's connections during the flood
    for (let i = 100; i < 150; i++) x.offer(from('10.244.1.66', i)); // more flood: cannot push them out
    sink.release();
    await x.flush();
    const ids = sink.data.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as FlowMsg).id);
    expect(ids.filter((id) => id.startsWith('10.244.1.7-'))).toEqual(['10.244.1.7-0', '10.244.1.7-1', '10.244.1.7-2']);
    expect(ids.filter((id) => id.startsWith('10.244.1.66-')).length).toBeGreaterThan(0); // the flood is exported too, as far as it fits
    const s = x.stats();
    expect(s.written + s.dropped).toBe(153); // every record written or counted
  });

  it('a full queue costs no JSON: the dropped flows are never encoded', () => {
    const sink = new FakeSink();
    let encoded = 0;
    const x = new FlowExporter(sink, { ...ALL, maxQueueRecords: 4 });
    const counting = (i: number): Flow => {
      const f = flow(i);
      // toFlowMsg reads forward once per record it encodes
      return Object.defineProperty(f, 'forward', { get: () => (encoded++, { packets: 1, bytes: 1, droppedPackets: 0, tcpFlags: 0 }), enumerable: true });
    };
    for (let i = 0; i < 10; i++) x.offer(counting(i));
    expect(x.stats()).toMatchObject({ queued: 4, dropped: 6 });
    expect(encoded).toBe(1); // only the first, in the writer's first batch
    sink.release();
  });

  it('a directory that disappears later: writes fail, counted as drops with the error; when it is back, export resumes', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'flows.jsonl');
    const errors: string[] = [];
    const cfg: FlowExportConfig = { file, maxBytes: 1e6, maxFiles: 1, allow: [], deny: [], fields: ['id'], maxQueueRecords: 100 };
    const x = openFlowExport(cfg, (e) => errors.push(e));
    x.offer(flow(1));
    await x.flush();
    expect(x.stats()).toMatchObject({ written: 1, dropped: 0, lastError: '' });
    // the file's directory goes away: the open handle still writes (unlinked), so rotate to force a reopen
    fs.rmSync(dir, { recursive: true });
    const gone = openFlowExport({ ...cfg, maxBytes: 1 }, (e) => errors.push(e));
    gone.offer(flow(2));
    gone.offer(flow(3));
    await gone.flush();
    const s = gone.stats();
    expect(s.written).toBe(0);
    expect(s.dropped).toBe(2);
    expect(s.writeErrors).toBeGreaterThan(0);
    expect(s.lastError).toMatch(/ENOENT/);
    expect(errors.length).toBeGreaterThan(0);
    // back: the same exporter writes again
    fs.mkdirSync(dir);
    gone.offer(flow(4));
    await gone.close();
    expect(lines(file).map((m) => m.id)).toEqual(['f4']);
    expect(gone.stats()).toMatchObject({ written: 1, dropped: 2 });
    await x.close();
  });
});

describe('settings', () => {
  const manifests = freshDir();
  const base = { nodeName: 'n1', manifests: [manifests], podCidr: ['10.244.0.0/16'] };
  const load = (flags: Record<string, unknown>) => loadAgentConfig({ flags: { ...base, ...flags }, env: {}, defaultBpfDir: path.join(ROOT, 'build/bpf') });
  const configError = (flags: Record<string, unknown>): ConfigError => {
    try {
      load(flags);
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('a good export configuration', () => {
    const file = path.join(freshDir(), 'flows.jsonl');
    const c = load({ flowExportFile: file, flowExportMaxSize: 2, flowExportMaxFiles: 3, flowExportAllow: '[{"verdict":["DROPPED"]}]', flowExportFields: ['id', 'source.pod'] }).config.observability?.flowExport;
    expect(c).toMatchObject({ file, maxBytes: 2 * 1024 * 1024, maxFiles: 3, allow: [{ verdict: ['DROPPED'] }], deny: [], fields: ['id', 'source.pod'], maxQueueRecords: 16384 });
    // control: no file, no export
    expect(load({}).config.observability?.flowExport).toBeUndefined();
  });

  it.each([
    [{ flowExportFile: '/nonexistent-vrfwall/flows.jsonl' }, 'flow-export-file', /\/nonexistent-vrfwall is not a directory/],
    [{ flowExportFile: 'relative.jsonl' }, 'flow-export-file', /must be an absolute path/],
    [{ flowExportFile: os.tmpdir() }, 'flow-export-file', /is not a regular file/],
    [{ flowExportFile: '/tmp/x.jsonl', flowExportAllow: '[{"verdict":["MAYBE"]}]' }, 'flow-export-allow', /--flow-export-allow: allow\[0\]\.verdict\[0\]: "MAYBE" is not one of/],
    [{ flowExportFile: '/tmp/x.jsonl', flowExportDeny: '{"ip":["10.1.2.300"]}' }, 'flow-export-deny', /--flow-export-deny: deny\[0\]\.ip\[0\]/],
    [{ flowExportFile: '/tmp/x.jsonl', flowExportDeny: 'verdict=DROPPED' }, 'flow-export-deny', /not JSON/],
    [{ flowExportFile: '/tmp/x.jsonl', flowExportFields: ['source.pods'] }, 'flow-export-fields', /not a field of source/],
    [{ flowExportFields: ['id'] }, 'flow-export-file', /need --flow-export-file/],
  ])('%j: ConfigError naming %s', (flags, key, msg) => {
    const e = configError(flags);
    expect(e.key).toBe(key);
    expect(e.message).toMatch(msg);
  });

  it('`vrfwall agent` with a bad export setting exits 2 with the message, before touching the kernel', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'agent', '--node-name', 'n1', '--manifests', manifests, '--pod-cidr', '10.244.0.0/16', '--flow-export-file', '/tmp/x.jsonl', '--flow-export-fields', 'nope'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--flow-export-fields: field "nope": not a field of Flow/);
  });
});
