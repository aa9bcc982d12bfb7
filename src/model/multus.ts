// The two pod annotations of Multus (the Network Plumbing Working Group's
// "Kubernetes Network Custom Resource Definition De-facto Standard"):
//   k8s.v1.cni.cncf.io/networks        what the pod asks for: its secondary
//                                      attachments, each naming a
//                                      NetworkAttachmentDefinition
//   k8s.v1.cni.cncf.io/network-status  what Multus attached: interface,
//                                      addresses and MAC of every network
// Pure parsing; what an attachment means for segmentation is decided by the
// compile step. A value that does not parse is an error, never "no
// attachments": the caller quarantines what it cannot judge.
import { canonicalIp } from './ip.js';
import { isDnsLabel, isDnsSubdomain } from './placement.js';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** One attachment a pod asks for. */
export interface NetworkSelection {
  /** of the NetworkAttachmentDefinition (the pod's own namespace when not given) */
  namespace: string;
  name: string;
  /** the interface in the pod: as asked, else Multus's default `net<position>` */
  interface: string;
  /** static addresses asked for (JSON form), canonical */
  ips: string[];
}

/** One network Multus reports as attached. */
export interface NetworkStatusEntry {
  /** "<namespace>/<NetworkAttachmentDefinition>" for a secondary network; the cluster network's name for the default one */
  name: string;
  interface?: string;
  /** canonical */
  ips: string[];
  mac?: string;
  /** the pod's cluster-network interface (Multus marks it `"default": true`) */
  default: boolean;
}

export type Parsed<T> = { ok: T } | { error: string };

/** A Linux interface name as CNI plugins accept it: 1-15 bytes, no '/', ':' or whitespace, not "." or "..". */
export function isInterfaceName(s: string): boolean {
  return s.length > 0 && s.length <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

/**
 * `k8s.v1.cni.cncf.io/networks`: either a comma-separated list of
 * `[<namespace>/]<name>[@<interface>]`, or a JSON list of objects with
 * `name` and optional `namespace`, `interface` and `ips` (other keys, e.g.
 * `mac` or `default-route`, are the CNI's business and ignored here).
 */
export function parseNetworkSelections(value: string, podNamespace: string): Parsed<NetworkSelection[]> {
  const text = value.trim();
  if (text === '') return { ok: [] };
  const raw = text.startsWith('[') ? jsonSelections(text) : textSelections(text);
  if ('error' in raw) return raw;
  const out: NetworkSelection[] = [];
  const seen = new Set<string>();
  for (const [i, r] of raw.ok.entries()) {
    const where = `${NETWORKS_ANNOTATION} entry ${i + 1}`;
    const namespace = r.namespace ?? podNamespace;
    if (!isDnsLabel(namespace)) return { error: `${where}: namespace ${JSON.stringify(namespace)} is not a DNS label` };
    if (!isDnsSubdomain(r.name)) return { error: `${where}: name ${JSON.stringify(r.name)} is not a DNS name` };
    // Multus names unnamed interfaces by position: net1, net2, ...
    const ifname = r.interface ?? `net${i + 1}`;
    if (!isInterfaceName(ifname)) return { error: `${where}: interface ${JSON.stringify(ifname)} is not an interface name` };
    if (seen.has(ifname)) return { error: `${where}: interface ${ifname} is asked for twice` };
    seen.add(ifname);
    const ips: string[] = [];
    for (const a of r.ips ?? []) {
      // Static addresses may carry a prefix length (the static IPAM plugin's form).
      const c = canonicalIp(a.replace(/\/\d{1,3}$/, ''));
      if (c === undefined) return { error: `${where}: ${JSON.stringify(a)} is not an IP address` };
      ips.push(c);
    }
    out.push({ namespace, name: r.name, interface: ifname, ips });
  }
  return { ok: out };
}

interface RawSelection {
  namespace?: string;
  name: string;
  interface?: string;
  ips?: string[];
}

function textSelections(text: string): Parsed<RawSelection[]> {
  const out: RawSelection[] = [];
  for (const [i, item] of text.split(',').entries()) {
    const s = item.trim();
    const m = /^(?:([^/@\s]+)\/)?([^/@\s]+)(?:@([^/@\s]+))?$/.exec(s);
    if (m === null) return { error: `${NETWORKS_ANNOTATION} entry ${i + 1}: ${JSON.stringify(s)} is not [<namespace>/]<name>[@<interface>]` };
    out.push({ ...(m[1] !== undefined ? { namespace: m[1] } : {}), name: m[2]!, ...(m[3] !== undefined ? { interface: m[3] } : {}) });
  }
  return { ok: out };
}

function jsonSelections(text: string): Parsed<RawSelection[]> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `${NETWORKS_ANNOTATION}: not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!Array.isArray(v)) return { error: `${NETWORKS_ANNOTATION}: not a JSON list` };
  const out: RawSelection[] = [];
  for (const [i, e] of v.entries()) {
    const where = `${NETWORKS_ANNOTATION} entry ${i + 1}`;
    if (!isRecord(e)) return { error: `${where}: not an object` };
    if (typeof e.name !== 'string') return { error: `${where}: "name" must be text` };
    if (e.namespace !== undefined && typeof e.namespace !== 'string') return { error: `${where}: "namespace" must be text` };
    if (e.interface !== undefined && typeof e.interface !== 'string') return { error: `${where}: "interface" must be text` };
    if (e.ips !== undefined && (!Array.isArray(e.ips) || !e.ips.every((a) => typeof a === 'string'))) return { error: `${where}: "ips" must be a list of addresses` };
    out.push({
      name: e.name,
      ...(e.namespace !== undefined ? { namespace: e.namespace } : {}),
      ...(e.interface !== undefined ? { interface: e.interface } : {}),
      ...(e.ips !== undefined ? { ips: e.ips as string[] } : {}),
    });
  }
  return { ok: out };
}

/** `k8s.v1.cni.cncf.io/network-status`: the JSON list Multus writes. */
export function parseNetworkStatus(value: string): Parsed<NetworkStatusEntry[]> {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch (e) {
    return { error: `${NETWORK_STATUS_ANNOTATION}: not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!Array.isArray(v)) return { error: `${NETWORK_STATUS_ANNOTATION}: not a JSON list` };
  const out: NetworkStatusEntry[] = [];
  for (const [i, e] of v.entries()) {
    const where = `${NETWORK_STATUS_ANNOTATION} entry ${i + 1}`;
    if (!isRecord(e) || typeof e.name !== 'string') return { error: `${where}: expected an object with a "name"` };
    if (e.interface !== undefined && (typeof e.interface !== 'string' || !isInterfaceName(e.interface))) return { error: `${where}: "interface" is not an interface name` };
    if (e.ips !== undefined && !Array.isArray(e.ips)) return { error: `${where}: "ips" must be a list` };
    const ips: string[] = [];
    for (const a of (e.ips as unknown[] | undefined) ?? []) {
      const c = typeof a === 'string' ? canonicalIp(a) : undefined;
      if (c === undefined) return { error: `${where}: ${JSON.stringify(a)} is not an IP address` };
      if (!ips.includes(c)) ips.push(c);
    }
    if (e.mac !== undefined && typeof e.mac !== 'string') return { error: `${where}: "mac" must be text` };
    out.push({
      name: e.name,
      ...(typeof e.interface === 'string' ? { interface: e.interface } : {}),
      ips,
      ...(typeof e.mac === 'string' ? { mac: e.mac } : {}),
      default: e.default === true,
    });
  }
  return { ok: out };
}

/** The network-status entry of a selection: same "<namespace>/<name>" and, when the entry names one, the same interface. */
export function statusOf(sel: NetworkSelection, status: readonly NetworkStatusEntry[]): NetworkStatusEntry | undefined {
  const name = `${sel.namespace}/${sel.name}`;
  return status.find((e) => !e.default && e.name === name && (e.interface === undefined || e.interface === sel.interface));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
