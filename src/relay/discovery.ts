// Where the agents are: the agents' DaemonSet pods, watched through the
// Kubernetes API (each running pod's podIP and the agents' TLS port, named by
// its spec.nodeName), or a fixed list (--agents). Either way the result is
// the member set of the AgentPool, replaced whenever it changes.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ResilientInformer } from '../sources/kube-informer.js';
import { listPage } from '../sources/kube-resources.js';
import type { AgentAddress } from './agents.js';
import { compareText } from '../util/order.js';

export interface Discovery {
  start(onMembers: (members: AgentAddress[]) => void): void;
  /** the first member set is known */
  whenSynced(): Promise<void>;
  /** for messages: what it watches and how that goes */
  describe(): string;
  stop(): Promise<void>;
}

/** "node=host:port" or "host:port" (the node is then the address) -> AgentAddress. */
export function parseStaticAgent(text: string): AgentAddress {
  const eq = text.indexOf('=');
  const node = eq > 0 ? text.slice(0, eq) : text;
  const address = eq > 0 ? text.slice(eq + 1) : text;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address) || Number(address.slice(address.lastIndexOf(':') + 1)) > 65535) {
    throw new Error(`${JSON.stringify(text)}: use host:port or node=host:port`);
  }
  return { node, address };
}

export class StaticDiscovery implements Discovery {
  constructor(private readonly agents: readonly AgentAddress[]) {
    const dup = agents.find((a, i) => agents.findIndex((b) => b.node === a.node) !== i);
    if (dup) throw new Error(`node ${dup.node} is listed twice`);
  }

  start(onMembers: (members: AgentAddress[]) => void): void {
    onMembers([...this.agents]);
  }

  whenSynced(): Promise<void> {
    return Promise.resolve();
  }

  describe(): string {
    return `--agents ${this.agents.map((a) => `${a.node}=${a.address}`).join(',')}`;
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** "k=v,k2=v2" (equality only: what a DaemonSet's matchLabels gives) -> labels. */
export function parseSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9._/-]*)=([A-Za-z0-9._-]*)$/.exec(part);
    if (!m) throw new Error(`${JSON.stringify(part)}: use key=value pairs separated by commas (equality only)`);
    out[m[1] as string] = m[2] as string;
  }
  if (Object.keys(out).length === 0) throw new Error('empty: name at least one key=value');
  return out;
}

interface PodLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

/** The agents among some pods: matching labels, running, with an address and a node. */
export function agentsOfPods(pods: readonly KubernetesObject[], selector: Record<string, string>, port: number): AgentAddress[] {
  const out: AgentAddress[] = [];
  for (const raw of pods as readonly PodLike[]) {
    const labels = raw.metadata?.labels ?? {};
    if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
    const node = raw.spec?.nodeName;
    const ip = raw.status?.podIP;
    if (!node || !ip || raw.status?.phase !== 'Running' || raw.metadata?.deletionTimestamp) continue;
    out.push({ node, address: ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}` });
  }
  return out.sort((a, b) => compareText(a.node, b.node));
}

/** What the watch keeps of a pod. */
function compactPod(obj: KubernetesObject): KubernetesObject {
  const p = obj as KubernetesObject & PodLike;
  return {
    metadata: {
      name: p.metadata?.name,
      namespace: p.metadata?.namespace,
      resourceVersion: p.metadata?.resourceVersion,
      labels: p.metadata?.labels,
      ...(p.metadata?.deletionTimestamp ? { deletionTimestamp: p.metadata.deletionTimestamp } : {}),
    },
    spec: { nodeName: p.spec?.nodeName },
    status: { podIP: p.status?.podIP, phase: p.status?.phase },
  } as KubernetesObject;
}

export interface KubeDiscoveryOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** the agents' pod labels */
  selector: Record<string, string>;
  /** the agents' --grpc-listen port */
  port: number;
  log: Logger;
}

/**
 * The agents' pods in their namespace, watched (the relay's RBAC: get, list,
 * watch pods there). The label selector is applied here, so one list/watch
 * path serves any selector.
 */
export class KubeDiscovery implements Discovery {
  private readonly informer: ResilientInformer;
  private onMembers: ((m: AgentAddress[]) => void) | undefined;
  private last = '';

  constructor(private readonly o: KubeDiscoveryOptions) {
    const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`;
    this.informer = new ResilientInformer({
      kind: 'Pod',
      path,
      list: (page, signal) => listPage(o.kubeConfig, path, page, signal),
      optional: false,
      kubeConfig: o.kubeConfig,
      log: o.log,
      requestTimeoutMs: 30_000,
      keepAliveMs: 30_000,
      retryMinMs: 500,
      retryMaxMs: 30_000,
      pageSize: 500,
      watchSessionSeconds: 300,
      compact: compactPod,
      onChange: () => this.changed(),
    });
  }

  private changed(): void {
    if (!this.informer.isSynced() || !this.onMembers) return;
    const members = agentsOfPods(this.informer.objects(), this.o.selector, this.o.port);
    const key = JSON.stringify(members);
    if (key === this.last) return;
    this.last = key;
    this.o.log.info({ agents: members }, 'agents changed');
    this.onMembers(members);
  }

  start(onMembers: (members: AgentAddress[]) => void): void {
    this.onMembers = onMembers;
    this.informer.start();
    void this.informer.whenSynced().then(() => this.changed());
  }

  whenSynced(): Promise<void> {
    return this.informer.whenSynced();
  }

  describe(): string {
    const sel = Object.entries(this.o.selector).map(([k, v]) => `${k}=${v}`).join(',');
    const state = this.informer.isSynced() ? 'synced' : `not synced yet${this.informer.lastError ? `: ${this.informer.lastError}` : ''}`;
    return `pods ${sel} in namespace ${this.o.namespace}, port ${this.o.port}: ${state}`;
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}
