// The lab's kube-proxy and ClusterIP allocator, one process per lab, run in
// node1's namespace (so `lab down` finds it like everything else it made):
//   ip netns exec <node1> node dist/lab/kube-proxy.js --lab <lab>
// It watches the same manifests and cluster file as the agents (the same
// local-manifest source), and on every change:
//   1. gives Services without spec.clusterIP(s) their ClusterIPs and writes
//      them into the cluster file's `services`, and ports of NodePort and
//      LoadBalancer Services without spec.ports[].nodePort their nodePorts
//      (the cluster file's `nodePorts`); the agents read both there,
//   2. computes backends with the shared src/model/services.ts, and the
//      NodePorts, external IPs and hostPorts (frontends.ts),
//   3. rebuilds the nftables table of every node namespace that changed
//      (one atomic `nft -f` each),
//   4. writes the services file (what the DNS server answers and what
//      `lab matrix` probes).
// Reports readiness over IPC after the first complete round.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { LabClusterFile } from './cluster-file.js';
import { ManifestSource } from '../sources/manifests.js';
import { labOverlay } from './cluster-file.js';
import { writeJsonAtomic } from '../util/files.js';
import { allocateClusterIPs } from './clusterips.js';
import type { Allocation } from './clusterips.js';
import { builtinDir, clusterFile, servicesFile } from './names.js';
import { applyNft, nftScript } from './nftables.js';
import { allocateNodePorts } from './nodeports.js';
import type { NodePortAllocation } from './nodeports.js';
import { labServices } from './services.js';
import { readState } from './state.js';
import { stableJson } from '../util/json.js';

const RETRY_MS = 1_000;

function sameAllocation(a: Allocation, b: Allocation): boolean {
  const norm = (x: Allocation): Record<string, unknown> => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v?.clusterIPs]));
  return stableJson(norm(a)) === stableJson(norm(b));
}

function sameNodePorts(a: NodePortAllocation, b: NodePortAllocation): boolean {
  return stableJson(a) === stableJson(b);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { lab: { type: 'string' } } });
  const lab = values.lab;
  if (!lab) throw new Error('usage: kube-proxy.js --lab <lab>');
  const state = readState(lab);
  if (!state) throw new Error(`lab "${lab}" has no state file`);
  // stdout is the log file (the lab starts this process with it), so a
  // failure before readiness shows in the lab's error message.
  const log = pino({ base: { component: 'kube-proxy', lab } }, pino.destination({ dest: 1, sync: true }));
  const cluster = clusterFile(lab);
  const source = new ManifestSource({ dirs: [state.manifests, builtinDir(lab)], overlay: labOverlay(cluster), logger: log });
  const applied = new Map<string, string>();
  let ready = false;

  const sync = async (): Promise<void> => {
    const cs = source.current();
    const file = JSON.parse(fs.readFileSync(cluster, 'utf8')) as LabClusterFile;
    const inputs = [...cs.services.values()].map((s) => ({
      key: `${s.metadata.namespace}/${s.metadata.name}`,
      clusterIPs: s.spec.clusterIPs,
      noClusterIP: s.spec.headless || s.spec.type === 'ExternalName',
    }));
    const allocation = allocateClusterIPs(inputs, file.services ?? {});
    const nodePortInputs = [...cs.services.values()].map((s) => ({
      key: `${s.metadata.namespace}/${s.metadata.name}`,
      wantsNodePorts: s.spec.type === 'NodePort' || s.spec.type === 'LoadBalancer',
      ports: s.spec.ports,
    }));
    const nodePorts = allocateNodePorts(nodePortInputs, file.nodePorts ?? {});
    const newIPs = !sameAllocation(allocation, file.services ?? {});
    const newNodePorts = !sameNodePorts(nodePorts, file.nodePorts ?? {});
    if (newIPs || newNodePorts) {
      if (newIPs) log.info({ services: allocation }, 'ClusterIPs allocated');
      if (newNodePorts) log.info({ nodePorts }, 'nodePorts allocated');
      writeJsonAtomic(cluster, { ...file, services: allocation, nodePorts });
    }
    // New addresses and nodePorts reach the state through the source, which
    // then calls again; a round that only freed some can go on at once.
    const unallocated = inputs.filter((s) => !s.noClusterIP && s.clusterIPs.length === 0);
    const noNodePort = nodePortInputs.filter((s) => s.wantsNodePorts && s.ports.some((p) => p.nodePort === undefined));
    if (unallocated.length > 0 || noNodePort.length > 0) return;
    const { file: out, targets, frontends } = labServices(cs, state.plan);
    for (const node of state.plan.nodes) {
      const mine = { ...frontends, hostPorts: frontends.hostPorts.filter((h) => h.node === node.name) };
      const script = nftScript(targets, { gateway: node.gateway }, mine);
      if (applied.get(node.netns) === script) continue;
      await applyNft(node.netns, script);
      applied.set(node.netns, script);
      log.info({ node: node.name, rules: targets.filter((t) => t.backends.length > 0).length }, 'nftables table rebuilt');
    }
    for (const p of out.problems) log.warn(p, 'service problem');
    writeJsonAtomic(servicesFile(lab), out);
    if (!ready) {
      ready = true;
      log.info({ services: out.services.length }, 'ready');
      if (process.send) process.send('ready', () => process.disconnect());
      else console.log('ready');
    }
  };

  // One round at a time; a change during a round triggers one more.
  let running: Promise<void> | undefined;
  let again = false;
  const trigger = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = sync()
      .catch((err: Error) => {
        log.error({ err: err.message }, `sync failed; retrying in ${RETRY_MS} ms`);
        setTimeout(trigger, RETRY_MS);
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  source.onChange(trigger);
  await source.start();
  trigger();
  process.on('SIGTERM', () => void source.stop().finally(() => process.exit(0)));
}

main().catch((err: Error) => {
  console.error(`kube-proxy: ${err.message}`);
  process.exit(1);
});
