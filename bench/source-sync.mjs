// A source (or the flow store) alone, in one process, at a given size: time
// to its first full state and the heap it then holds (after a full collection). For A/B
// comparisons of src/sources between two builds, without BPF or an agent:
//
//   node bench/source-sync.mjs generate <dir> <pods>     (part 3's cluster as manifest files)
//   node --expose-gc bench/source-sync.mjs kube <pods> [<repo with dist/>]
//   node --expose-gc bench/source-sync.mjs manifests <dir with manifests/ and cluster.json, as part 3 makes> [<repo>]
//   node --expose-gc bench/source-sync.mjs flows <n> [<repo>]
//   node --expose-gc bench/source-sync.mjs manifests-change <dir as above> [<repo>] [<changes>]
//   node --expose-gc bench/source-sync.mjs written <endpoints> [<repo>]
//
// manifests-change: after the first state, one namespace.yaml rewritten at a
// time (its isolation label toggled, as part 3 does), timed from the write to
// the source's notification (file watcher, re-read, publish and change set),
// with the change set's size (it must name the one Namespace).
//
// kube: the test API server (this repo's build/bench, after `make bench` or
// `tsc -p bench/tsconfig.json`) runs in the same process, populated as part 3
// does (1,000 namespaces, pods on node2); its heap is counted before the
// source starts. The repo argument picks whose dist/ the source comes from.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

const here = path.dirname(fileURLToPath(import.meta.url));
const [kind, arg, repoArg] = process.argv.slice(2);
const repo = path.resolve(repoArg ?? path.join(here, '..'));
if (kind !== 'generate' && typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
const log = pino({ level: 'error' });
const heap = () => process.memoryUsage().heapUsed / 2 ** 20;

if (kind === 'kube') {
  const pods = Number(arg);
  const { TestApiServer } = await import(path.join(here, '../build/bench/test/helpers/apiserver.js'));
  const { namespaceObj, nodeObj, podObj } = await import(path.join(here, '../build/bench/test/helpers/kube-objects.js'));
  const { KubeSource, loadKubeConfig } = await import(path.join(repo, 'dist/sources/kube.js'));
  const s = new TestApiServer();
  await s.start();
  s.apply('namespaces', namespaceObj('default'));
  s.apply('nodes', nodeObj('node1', ['192.168.77.1']));
  for (let k = 0; k < 1000; k++) s.apply('namespaces', namespaceObj(`cp-ns${k}`));
  const podIp = (i) => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
  for (let i = 0; i < pods; i++) s.apply('pods', podObj(`cp-ns${i % 1000}`, `p${i}`, { node: 'node2', ips: [podIp(i)] }));
  const kc = path.join(here, '../build/source-sync.kubeconfig');
  s.writeKubeconfig(kc);
  global.gc();
  const h0 = heap();
  const t0 = performance.now();
  const src = new KubeSource({ kubeConfig: loadKubeConfig(kc), logger: log, nodeName: 'node1' });
  await src.start();
  const ms = performance.now() - t0;
  global.gc();
  console.log(`kube ${repo}: ${src.current().pods.size} pods in ${s.stats.requests.get('list pods')} pages, synced in ${Math.round(ms)} ms (server in-process), source heap ${Math.round(heap() - h0)} MB`);
  await src.stop();
  await s.close();
} else if (kind === 'manifests') {
  const { ManifestSource } = await import(path.join(repo, 'dist/sources/manifests.js'));
  const { labOverlay } = await import(path.join(repo, 'dist/lab/cluster-file.js'));
  global.gc();
  const h0 = heap();
  const t0 = performance.now();
  const src = new ManifestSource({ dir: path.join(arg, 'manifests'), overlay: labOverlay(path.join(arg, 'cluster.json')), logger: log, resyncMs: 0 });
  await src.start();
  const ms = performance.now() - t0;
  global.gc();
  console.log(`manifests ${repo}: ${src.current().pods.size} pods, first state in ${Math.round(ms)} ms, source heap ${Math.round(heap() - h0)} MB`);
  await src.stop();
} else if (kind === 'manifests-change') {
  const { default: fs } = await import('node:fs');
  const { ManifestSource } = await import(path.join(repo, 'dist/sources/manifests.js'));
  const { labOverlay } = await import(path.join(repo, 'dist/lab/cluster-file.js'));
  const changes = Number(process.argv[5] ?? 200);
  const src = new ManifestSource({ dir: path.join(arg, 'manifests'), overlay: labOverlay(path.join(arg, 'cluster.json')), logger: log, resyncMs: 0 });
  await src.start();
  await new Promise((r) => setTimeout(r, 3000)); // the watchers' setup and its second scan
  const nsDoc = (k, iso) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cp-ns${k}\n${iso ? '  labels:\n    vrfwall.dev/isolated: "true"\n' : ''}`;
  const ms = [];
  const sizes = new Map();
  for (let i = 0; i < changes; i++) {
    const k = (i * 7) % 1000;
    const iso = src.current().namespaces.get(`cp-ns${k}`)?.metadata.labels['vrfwall.dev/isolated'] !== 'true';
    const seen = new Promise((resolve) => {
      const off = src.onChange((s, changed) => {
        if ((s.namespaces.get(`cp-ns${k}`)?.metadata.labels['vrfwall.dev/isolated'] === 'true') !== iso) return;
        off();
        sizes.set(changed.length, (sizes.get(changed.length) ?? 0) + 1);
        resolve();
      });
    });
    const t0 = performance.now();
    fs.writeFileSync(path.join(arg, 'manifests', `cp-ns${k}`, 'namespace.yaml'), nsDoc(k, iso));
    await seen;
    ms.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 30)); // past the watcher's follow-up read
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
  console.log(`manifests-change ${repo}: ${src.current().pods.size} pods, ${changes} namespace label changes, write -> notification p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${ms.at(-1).toFixed(1)} ms; change-set sizes ${JSON.stringify([...sizes])}`);
  await src.stop();
} else if (kind === 'written') {
  // The map writer's memory of the maps at <endpoints> endpoints: a full image
  // (MapImages) against what it keeps between full diffs (WrittenImages).
  const n = Number(arg);
  const { desiredImages, writtenOf } = await import(path.join(repo, 'dist/agent/images.js'));
  const { emptyAllocation } = await import(path.join(repo, 'dist/model/vrf.js'));
  const ip = (i) => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
  const d = { endpoints: new Map(), vrfPairs: new Set(), networks: new Map([[1, 0]]), cidrs: new Map(), attach: new Map(), ports: new Map(), services: new Map(), backends: new Map(), serviceAccess: new Map(), placements: new Map(), allocation: emptyAllocation(), problems: [] };
  for (let i = 0; i < n; i++) d.endpoints.set(ip(i), { vrfId: 1 + (i % 1000), flags: 0, ifindex: 0 });
  const held = () => {
    global.gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const h0 = held();
  let images = desiredImages(d);
  const h1 = held();
  images = writtenOf(images);
  const h2 = held();
  console.log(`written ${repo}: ${n} endpoints, full image ${((h1 - h0) / 2 ** 20).toFixed(1)} MB, WrittenImages ${((h2 - h0) / 2 ** 20).toFixed(1)} MB (heap + array buffers)`);
} else if (kind === 'generate') {
  // The cluster of part 3 as files: <dir>/manifests/cp-ns<k>/{namespace,pods}.yaml and <dir>/cluster.json.
  const { default: fs } = await import('node:fs');
  const pods = Number(repoArg);
  const dir = arg;
  const podIp = (i) => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
  fs.rmSync(dir, { recursive: true, force: true });
  const placement = {};
  const perNs = Array.from({ length: 1000 }, () => []);
  for (let i = 0; i < pods; i++) {
    const k = i % 1000;
    perNs[k].push(`apiVersion: v1\nkind: Pod\nmetadata:\n  name: p${i}\n  namespace: cp-ns${k}\nspec:\n  nodeName: node2\n  containers:\n    - name: c\n      image: none\n`);
    placement[`cp-ns${k}/p${i}`] = { node: 'node2', ips: [podIp(i)] };
  }
  for (let k = 0; k < 1000; k++) {
    const d = path.join(dir, 'manifests', `cp-ns${k}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cp-ns${k}\n`);
    fs.writeFileSync(path.join(d, 'pods.yaml'), perNs[k].join('---\n'));
  }
  const nodes = [{ name: 'node1', addresses: ['192.168.77.1'] }, { name: 'node2', addresses: ['192.168.77.2'] }];
  fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ version: 1, podCIDRs: ['10.128.0.0/9'], serviceCIDRs: ['10.96.0.0/16'], nodes, pods: placement }));
  console.log(`wrote ${pods} pods in 1000 namespaces under ${dir}`);
} else if (kind === 'flows') {
  // The flow store alone: <n> flows as the reader makes them (distinct UDP ports between two pods).
  const n = Number(arg);
  const { FlowStore } = await import(path.join(repo, 'dist/flows/store.js'));
  const { flowFromKernel, flowId, MonoClock } = await import(path.join(repo, 'dist/flows/enrich.js'));
  const { Directory } = await import(path.join(repo, 'dist/flows/directory.js'));
  const { encodeFlowKey } = await import(path.join(repo, 'dist/kernel/abi.js'));
  const dir = new Directory();
  for (const ip of ['10.128.0.1', '10.128.0.2']) {
    dir.byIp.set(ip, { ip, kind: 'pod', namespace: 'cp-ns1', pod: `p-${ip}`, network: '', node: 'node2', service: '', local: false, ifindex: 0, quarantined: false, reason: '', hostNetwork: false });
  }
  const clock = new MonoClock();
  const store = new FlowStore(n);
  global.gc();
  const h0 = heap();
  for (let i = 0; i < n; i++) {
    const key = { selfAddr: '10.128.0.1', peerAddr: '10.128.0.2', ifindex: 1, selfPort: 1024 + (i % 60000), peerPort: 1000 + Math.floor(i / 60000), ethertype: 0x800, proto: 17 };
    const v = { packets: [1n, 0n], bytes: [60n, 0n], drops: [1n, 0n], tcpFlags: [0, 0], firstDir: 0, verdict: 1, code: 3, firstNs: 1_000_000n + BigInt(i), lastNs: 2_000_000n + BigInt(i) };
    store.put(flowFromKernel(flowId(encodeFlowKey(key)), key, v, dir, 'node1', clock));
  }
  global.gc();
  console.log(`flows ${repo}: ${store.size} flows held, ${Math.round(((heap() - h0) * 2 ** 20) / n)} bytes a flow`);
} else {
  throw new Error('usage: source-sync.mjs generate <dir> <pods> | kube <pods> | manifests <dir> | manifests-change <dir> [repo] [changes] | flows <n> [repo]');
}
process.exit(0);
