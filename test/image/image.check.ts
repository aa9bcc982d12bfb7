// make image-test: the agent image that `make image` built (IMAGE), run by
// podman. `vrfwall --version` and `vrfwall agent --help` from it, and no lab
// in it; then its agent on a lab node (lab `pkgimg`, namespaces
// vrfwall-pkgimg-*), as it runs in a cluster: with --source kube, against the
// test API server (the list/watch protocol, listening on the node
// namespace's loopback) holding the lab's nodes, namespaces and pods. The
// container joins that node's network namespace (--network ns:...), gets
// bpffs and /run/vrfwall from the host as the DaemonSet gives them, syncs,
// pins its maps (read back from the kernel here) and attaches to every pod.
//
// podman here: crun cannot start containers on this host's hybrid cgroups, and
// no runtime may raise rlimits above the caller's (no CAP_SYS_RESOURCE), so
// containers run with runc and explicit ulimits (RUN_FLAGS).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/kernel/native.js';
import os from 'node:os';
import type { LabClusterFile } from '../../src/lab/cluster-file.js';
import { labDown, labUp } from '../../src/lab/lab.js';
import { agentStatusFile, clusterFile, netnsPath } from '../../src/lab/names.js';
import type { LabState } from '../../src/lab/state.js';
import { ROOT, readEndpoints, timeUntil } from '../helpers/lab.js';
import { withNetns } from '../helpers/netns.js';
import { TestApiServer } from '../helpers/apiserver.js';
import { namespaceObj, nodeObj, podObj } from '../helpers/kube-objects.js';

const IMAGE = process.env.IMAGE ?? '';
const LAB = 'pkgimg';
const INSTANCE = `${LAB}-node1`;
const CONTAINER = `vrfwall-${LAB}-agent`;
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
/** This process's hard limit of open files: what a container may be given without CAP_SYS_RESOURCE. */
const NOFILE = /^Max open files\s+\S+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '4096';
const RUN_FLAGS = ['--pull=never', '--runtime', 'runc', '--ulimit', `nofile=${NOFILE}:${NOFILE}`, '--ulimit', 'nproc=4096:4096'];

const podman = (args: string[], timeoutMs = 60_000) => spawnSync('podman', args, { encoding: 'utf8', timeout: timeoutMs });

describe(`agent image ${IMAGE}`, () => {
  let state: LabState;
  let server: TestApiServer | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-image-'));

  beforeAll(async () => {
    expect(IMAGE, 'IMAGE=<the image make image built>').not.toBe('');
    podman(['rm', '-f', CONTAINER]);
    await labDown(LAB);
    state = await labUp(path.join(ROOT, 'examples/cn2-isolated-namespace'), { lab: LAB, nodes: 1, agent: false, log: () => undefined });
  });

  afterAll(async () => {
    podman(['rm', '-f', '-t', '0', CONTAINER]);
    if (state) {
      // The image's own --cleanup: programs detached, pins removed.
      podman(['run', '--rm', ...RUN_FLAGS, '--privileged', '--network', `ns:${netnsPath(state.plan.nodes[0]!.netns)}`,
        '-v', '/sys/fs/bpf:/sys/fs/bpf', '-v', '/run/vrfwall:/run/vrfwall', IMAGE, 'agent', '--cleanup', '--node-name', 'node1', '--instance', INSTANCE]);
    }
    await server?.close();
    await labDown(LAB);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('vrfwall --version', () => {
    const r = podman(['run', '--rm', ...RUN_FLAGS, '--network', 'none', IMAGE, '--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(PKG.version);
  });

  it('vrfwall agent --help', () => {
    const r = podman(['run', '--rm', ...RUN_FLAGS, '--network', 'none', IMAGE, 'agent', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('--node-name');
  });

  it('has no lab: `vrfwall lab` says so, and dist/lab is not in it', () => {
    const lab = podman(['run', '--rm', ...RUN_FLAGS, '--network', 'none', IMAGE, 'lab', '--help']);
    expect(lab.status).toBe(1);
    expect(lab.stderr).toContain('the lab is not part of this installation');
    const dist = podman(['run', '--rm', ...RUN_FLAGS, '--network', 'none', '--entrypoint', 'ls', IMAGE, '/opt/vrfwall/dist']);
    expect(dist.status, dist.stderr).toBe(0);
    expect(dist.stdout.split('\n')).toContain('agent'); // the control: the listing is the product's
    expect(dist.stdout.split('\n')).not.toContain('lab');
  });

  it("the image's agent on a lab node: synced, maps pinned, attached to every pod", async () => {
    const node = state.plan.nodes[0]!;
    // The lab's cluster, as an API server holds it.
    const cluster = JSON.parse(fs.readFileSync(clusterFile(LAB), 'utf8')) as LabClusterFile;
    server = new TestApiServer({ netns: node.netns });
    await server.start();
    for (const n of cluster.nodes) server.apply('nodes', nodeObj(n.name, n.addresses));
    const namespaces = new Set(['default', ...Object.keys(cluster.pods).map((k) => k.split('/')[0]!)]);
    for (const ns of namespaces) server.apply('namespaces', namespaceObj(ns));
    for (const [key, p] of Object.entries(cluster.pods)) {
      const [ns, name] = key.split('/') as [string, string];
      server.apply('pods', podObj(ns, name, { node: p.node, ips: p.ips }));
    }
    const kubeconfig = path.join(tmp, 'kubeconfig');
    server.writeKubeconfig(kubeconfig);
    const status = agentStatusFile(INSTANCE);
    fs.rmSync(status, { force: true });
    const started = podman([
      'run', '-d', '--name', CONTAINER, ...RUN_FLAGS, '--privileged',
      '--network', `ns:${netnsPath(node.netns)}`,
      '-v', '/sys/fs/bpf:/sys/fs/bpf', '-v', '/run/vrfwall:/run/vrfwall',
      '-v', `${kubeconfig}:/etc/vrfwall/kubeconfig:ro`,
      IMAGE, 'agent', '--node-name', 'node1', '--instance', INSTANCE, '--source', 'kube', '--kubeconfig', '/etc/vrfwall/kubeconfig',
      '--pod-cidr', cluster.podCIDRs.join(','), '--service-cidr', cluster.serviceCIDRs.join(','),
    ]);
    expect(started.status, started.stderr).toBe(0);
    const read = (): { synced?: boolean; attached?: string[]; lastError?: string } => {
      try {
        return JSON.parse(fs.readFileSync(status, 'utf8')) as { synced?: boolean };
      } catch {
        return {};
      }
    };
    const running = () => podman(['inspect', '-f', '{{.State.Running}}', CONTAINER]).stdout.trim() === 'true';
    await timeUntil(() => read().synced === true || !running(), 30_000, 'the agent in the container syncs');
    const st = read();
    expect(st.lastError, podman(['logs', CONTAINER]).stdout.slice(-3000)).toBeUndefined();
    expect(st.synced).toBe(true);

    // Pinned by the container, read back from the kernel by this process: every lab pod is an endpoint.
    const maps = fs.readdirSync(`/sys/fs/bpf/vrfwall/${INSTANCE}/maps`);
    expect(maps).toEqual(expect.arrayContaining(['endpoints', 'flows']));
    // Every pod with an interface, the lab's built-in ones (DNS) too: the API server holds them all.
    const pods = state.plan.pods.filter((p) => p.hostIf !== undefined);
    const endpoints = readEndpoints(INSTANCE);
    expect(endpoints.size).toBeGreaterThanOrEqual(pods.length);
    expect(st.attached?.slice().sort()).toEqual(pods.map((p) => p.key).sort());
    const bpf = native();
    const progs = withNetns(node.netns, () => pods.map((p) => bpf.tcxQuery(bpf.ifNameToIndex(p.hostIf!), 'ingress').length));
    expect(progs).toEqual(pods.map(() => 1));
  });
});
