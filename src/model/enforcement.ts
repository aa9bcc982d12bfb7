// Audit mode (issue 19, design section 3 "Audit mode"): which networks are
// audited, read from the annotation vrfwall.dev/enforcement. Pure.
//
// A network's mode is its VirtualNetwork's own annotation, else its
// namespace's (the implicit network of an isolated namespace takes the
// namespace's), else enforce. "audit" or "enforce", trimmed, any case; any
// other value enforces (fail closed) and is reported on the object that has
// it. The cluster's default pod network is never audited by annotation: many
// namespaces share it, and one namespace must not decide for the others (the
// node-wide --enforcement setting is the switch for that).
//
// OPEN = the audited networks and, when there is one, the default network.
// An annotation may relax only its own segment's isolation: two networks that
// section 3 keeps apart pass in audit only when BOTH are in OPEN (default <->
// audited X, audited V <-> audited W), never audited V <-> enforced W. With
// no audited network OPEN is empty, so nothing changes.
import { VW_NET_AUDIT, VW_NET_OPEN } from '../kernel/abi.js';
import { DEFAULT_NETWORK, type ClusterState, type ObjectMeta, type SourceProblem } from './types.js';
import { compareText } from '../util/order.js';

export const ENFORCEMENT_KEY = 'vrfwall.dev/enforcement';

export type Enforcement = 'audit' | 'enforce';

export interface NetworkModes {
  /** Networks in audit mode. */
  audited: Set<string>;
  /** audited ∪ {the default network} when any network is audited, else empty. */
  open: Set<string>;
  /** network -> where its mode comes from (for explain and the network list) */
  why: Map<string, string>;
  problems: SourceProblem[];
}

/** The annotation's value: undefined when absent; a bad value reads as
 *  "enforce" and is reported. */
export function enforcementOf(meta: ObjectMeta, source: string, problems: SourceProblem[]): Enforcement | undefined {
  const raw = meta.annotations[ENFORCEMENT_KEY];
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (v === 'audit' || v === 'enforce') return v;
  problems.push({ source, message: `annotation ${ENFORCEMENT_KEY}=${JSON.stringify(raw)} is neither "audit" nor "enforce"; enforced` });
  return 'enforce';
}

/** The mode of every network in `networks` ("ns/name"). */
export function networkModes(
  state: Pick<ClusterState, 'namespaces' | 'virtualNetworks'>,
  networks: Iterable<string>,
): NetworkModes {
  const problems: SourceProblem[] = [];
  const nsMode = new Map<string, Enforcement>();
  for (const ns of [...state.namespaces.values()].sort((a, b) => compareText(a.metadata.name, b.metadata.name))) {
    const m = enforcementOf(ns.metadata, `Namespace ${ns.metadata.name}`, problems);
    if (m !== undefined) nsMode.set(ns.metadata.name, m);
  }
  const audited = new Set<string>();
  const why = new Map<string, string>();
  const usedNs = new Set<string>();
  for (const net of [...networks].sort(compareText)) {
    const ns = net.slice(0, net.indexOf('/'));
    const vn = state.virtualNetworks.get(net);
    const own = vn === undefined ? undefined : enforcementOf(vn.metadata, `VirtualNetwork ${net}`, problems);
    let mode: Enforcement = 'enforce';
    let from = 'no annotation: enforced';
    if (own !== undefined) {
      mode = own;
      from = `VirtualNetwork ${net} annotation ${ENFORCEMENT_KEY}`;
    } else if (nsMode.has(ns)) {
      mode = nsMode.get(ns) as Enforcement;
      from = `Namespace ${ns} annotation ${ENFORCEMENT_KEY}`;
      if (net !== DEFAULT_NETWORK) usedNs.add(ns);
    }
    if (net === DEFAULT_NETWORK) {
      if (own === 'audit') {
        problems.push({
          source: `VirtualNetwork ${net}`,
          message: `${ENFORCEMENT_KEY}=audit has no effect: the default pod network is shared by every non-isolated namespace and is never audited by annotation (the node-wide --enforcement setting is)`,
        });
      }
      mode = 'enforce';
      from = 'the default pod network: never audited by annotation';
    }
    if (mode === 'audit') audited.add(net);
    why.set(net, `${mode} (${from})`);
  }
  for (const [ns, m] of nsMode) {
    if (m !== 'audit' || usedNs.has(ns)) continue;
    problems.push({
      source: `Namespace ${ns}`,
      message:
        `${ENFORCEMENT_KEY}=audit has no effect: the namespace is not isolated and has no VirtualNetwork that inherits it ` +
        '(its pods are in the shared default network, which is never audited by annotation)',
    });
  }
  const open = new Set<string>();
  if (audited.size > 0) {
    open.add(DEFAULT_NETWORK);
    for (const n of audited) open.add(n);
  }
  return { audited, open, why, problems };
}

/** The VW_NET_* bits of audit mode for `net`. */
export function modeFlags(modes: Pick<NetworkModes, 'audited' | 'open'>, net: string): number {
  return (modes.audited.has(net) ? VW_NET_AUDIT : 0) | (modes.open.has(net) ? VW_NET_OPEN : 0);
}
