// Which network a pod is in: design section 2, first match wins.
//   1. a network annotation on the pod
//   2. a network annotation on the pod's namespace
//   3. the namespace is isolated -> <ns>/default-podnetwork
//   4. the default network
// Anything doubtful about an annotation puts the pod in quarantine: falling
// back to a broader network would silently open it.
import { DEFAULT_NETWORK, type NamespaceObject, type ObjectMeta, type PodObject, type PodPlacement } from './types.js';

// Keys naming a network (pod or namespace annotations).
export const NETWORK_KEY = 'vrfwall.dev/network';
export const CN2_NETWORK_KEY = 'net.juniper.contrail.podnetwork';
export const LEGACY_NETWORK_KEY = 'opencontrail.org/network';

// Keys marking a namespace isolated.
export const ISOLATED_LABEL = 'vrfwall.dev/isolated';
export const CN2_ISOLATED_LABEL = 'core.juniper.net/isolated-namespace';
export const LEGACY_ISOLATION_ANNOTATION = 'opencontrail.org/isolation';

/** Legacy Contrail's only domain. */
const LEGACY_DOMAIN = 'default-domain';

export const ISOLATED_NETWORK_NAME = 'default-podnetwork';

export function isolatedNetworkOf(namespace: string): string {
  return `${namespace}/${ISOLATED_NETWORK_NAME}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 label, as Kubernetes validates namespace names. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}
/** RFC 1123 subdomain, as Kubernetes validates most object names. */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every(isDnsLabel);
}

export interface Isolation {
  isolated: boolean;
  /** Which key(s) decided, for `why`. */
  why: string;
  /** Values that were neither true nor false (read as "isolated"). */
  badValues: string[];
}

/**
 * Whether a namespace is isolated. Any of the three keys saying "true" (any
 * case) isolates it; "false" on one key does not cancel "true" on another.
 * A value that is neither true nor false (e.g. "yes-please") also isolates:
 * whoever wrote it was trying to say something about isolation, and the
 * closed reading is the safe one. The caller reports such values.
 */
export function namespaceIsolation(ns: NamespaceObject): Isolation {
  const found: { where: string; value: string }[] = [];
  const add = (where: string, value: string | undefined): void => {
    if (value !== undefined) found.push({ where, value });
  };
  add(`label ${ISOLATED_LABEL}`, ns.metadata.labels[ISOLATED_LABEL]);
  add(`label ${CN2_ISOLATED_LABEL}`, ns.metadata.labels[CN2_ISOLATED_LABEL]);
  add(`annotation ${LEGACY_ISOLATION_ANNOTATION}`, ns.metadata.annotations[LEGACY_ISOLATION_ANNOTATION]);

  const isolating: string[] = [];
  const badValues: string[] = [];
  for (const { where, value } of found) {
    const v = value.trim().toLowerCase();
    if (v === 'true') isolating.push(`${where}=${JSON.stringify(value)}`);
    else if (v !== 'false') {
      isolating.push(`${where}=${JSON.stringify(value)} (neither true nor false: read as true)`);
      badValues.push(`${where}=${JSON.stringify(value)}`);
    }
  }
  return isolating.length > 0
    ? { isolated: true, why: isolating.join(', '), badValues }
    : { isolated: false, why: 'no isolation label', badValues };
}

/** Networks that exist without any VirtualNetwork object: the default network
 *  and one per isolated namespace. The compile step adds the VirtualNetworks. */
export function implicitNetworks(namespaces: Iterable<NamespaceObject>): Set<string> {
  const nets = new Set([DEFAULT_NETWORK]);
  for (const ns of namespaces) {
    if (namespaceIsolation(ns).isolated) nets.add(isolatedNetworkOf(ns.metadata.name));
  }
  return nets;
}

export interface PlacementContext {
  /** Every network that exists, "ns/name". */
  networks: ReadonlySet<string>;
  /** Networks that exist but take no pods (VirtualNetwork spec.podNetwork
   *  false): an annotation naming one quarantines, like a missing network. */
  noPods?: ReadonlySet<string>;
  /** Every namespace name (to resolve legacy Contrail project names). */
  namespaces: ReadonlySet<string>;
}

/** Outcome of reading the network annotations of one object. */
export type NetworkChoice =
  | { kind: 'none' }
  | { kind: 'network'; network: string; keys: string[] }
  | { kind: 'bad'; why: string };

/**
 * Place one pod. `ns` is its namespace object, undefined when the namespace
 * is not known: then nothing can be said about isolation, so quarantine (a
 * watch may deliver a pod before its namespace; opening it meanwhile would be
 * a hole).
 */
export function placePod(
  pod: Pick<PodObject, 'metadata'>,
  ns: NamespaceObject | undefined,
  ctx: PlacementContext,
  /** What the object is, for `why`. */
  what = 'pod',
): PodPlacement {
  const own = networkChoice(pod.metadata, ctx);
  if (own.kind === 'bad') return { kind: 'quarantine', why: `${what} ${own.why}` };
  if (own.kind === 'network') {
    return { kind: 'network', network: own.network, why: `${what} annotation ${own.keys.join(', ')}` };
  }

  if (ns === undefined) {
    return { kind: 'quarantine', why: `namespace ${pod.metadata.namespace} is unknown (not declared or unreadable)` };
  }
  const nsChoice = networkChoice(ns.metadata, ctx);
  if (nsChoice.kind === 'bad') return { kind: 'quarantine', why: `namespace ${ns.metadata.name} ${nsChoice.why}` };
  if (nsChoice.kind === 'network') {
    return {
      kind: 'network',
      network: nsChoice.network,
      why: `namespace ${ns.metadata.name} annotation ${nsChoice.keys.join(', ')}`,
    };
  }

  const iso = namespaceIsolation(ns);
  if (iso.isolated) {
    const network = isolatedNetworkOf(ns.metadata.name);
    if (!ctx.networks.has(network)) {
      // Cannot happen when ctx.networks includes implicitNetworks(); if it
      // does, the isolated network is missing and the default is not an option.
      return { kind: 'quarantine', why: `namespace ${ns.metadata.name} is isolated but network ${network} is missing` };
    }
    return { kind: 'network', network, why: `namespace ${ns.metadata.name} is isolated (${iso.why})` };
  }
  return { kind: 'network', network: DEFAULT_NETWORK, why: `namespace ${ns.metadata.name} is not isolated` };
}

/** Read all network keys of one object: none, one network (possibly named by
 *  several keys that agree), or bad (unparsable, conflicting, nonexistent). */
export function networkChoice(meta: ObjectMeta, ctx: PlacementContext): NetworkChoice {
  const chosen = new Map<string, string[]>(); // network -> keys naming it
  const problems: string[] = [];
  const note = (key: string, r: { network: string } | { why: string }): void => {
    if ('why' in r) problems.push(r.why);
    else chosen.set(r.network, [...(chosen.get(r.network) ?? []), key]);
  };

  for (const key of [NETWORK_KEY, CN2_NETWORK_KEY]) {
    const value = meta.annotations[key];
    if (value !== undefined) note(key, parseNsName(key, value, ctx));
  }
  const legacy = meta.annotations[LEGACY_NETWORK_KEY];
  if (legacy !== undefined) note(LEGACY_NETWORK_KEY, parseLegacy(legacy, ctx));

  if (problems.length > 0) return { kind: 'bad', why: problems.join('; ') };
  if (chosen.size > 1) {
    const parts = [...chosen].map(([net, keys]) => `${keys.join(', ')} -> ${net}`);
    return { kind: 'bad', why: `network annotations conflict (${parts.join(' vs ')})` };
  }
  const only = [...chosen][0];
  if (only === undefined) return { kind: 'none' };
  return { kind: 'network', network: only[0], keys: only[1] };
}

/** "<ns>/<name>" naming an existing network. */
function parseNsName(key: string, value: string, ctx: PlacementContext): { network: string } | { why: string } {
  const shown = `annotation ${key}=${JSON.stringify(value)}`;
  const parts = value.trim().split('/');
  const [ns, name] = parts;
  if (parts.length !== 2 || ns === undefined || name === undefined || !isDnsLabel(ns) || !isDnsSubdomain(name)) {
    return { why: `${shown} does not parse (expected "<namespace>/<network>")` };
  }
  const network = `${ns}/${name}`;
  if (!ctx.networks.has(network)) return { why: `${shown} names network ${network}, which does not exist` };
  if (ctx.noPods?.has(network)) return { why: `${shown} names network ${network}, which takes no pods (podNetwork: false)` };
  return { network };
}

/**
 * Legacy Contrail: {"domain":"default-domain","project":"<cluster>-<ns>","name":"<name>"}.
 * The cluster prefix is not known here, so the namespace is found by suffix:
 * every namespace N with project = "<non-empty prefix>-N" is a candidate, and
 * the candidates whose network N/<name> exists are kept. Exactly one -> that
 * network; none -> does not exist; several (e.g. namespaces "b" and "a-b" for
 * project "k8s-a-b", both with the network) -> ambiguous, quarantine: guessing
 * could put the pod into a stranger's network.
 */
function parseLegacy(value: string, ctx: PlacementContext): { network: string } | { why: string } {
  const shown = `annotation ${LEGACY_NETWORK_KEY}=${JSON.stringify(value)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { why: `${shown} is not JSON` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { why: `${shown} is not a JSON object` };
  }
  const obj = parsed as Record<string, unknown>;
  const { domain, project, name } = obj;
  if (domain !== undefined && domain !== LEGACY_DOMAIN) {
    return { why: `${shown}: domain must be "${LEGACY_DOMAIN}"` };
  }
  if (typeof project !== 'string' || typeof name !== 'string' || !isDnsSubdomain(name)) {
    return { why: `${shown} does not parse (expected string fields "project" and "name")` };
  }
  const candidates = [...ctx.namespaces].filter(
    (ns) => project.length > ns.length + 1 && project.endsWith(`-${ns}`),
  );
  if (candidates.length === 0) {
    return { why: `${shown}: project ${JSON.stringify(project)} matches no namespace (expected "<cluster>-<namespace>")` };
  }
  const existing = candidates.map((ns) => `${ns}/${name}`).filter((net) => ctx.networks.has(net));
  if (existing.length === 0) {
    const names = candidates.map((ns) => `${ns}/${name}`).sort();
    return { why: `${shown} names network ${names.join(' or ')}, which does not exist` };
  }
  const [network] = existing;
  if (existing.length > 1 || network === undefined) {
    return { why: `${shown} is ambiguous: project matches networks ${existing.sort().join(', ')}` };
  }
  if (ctx.noPods?.has(network)) return { why: `${shown} names network ${network}, which takes no pods (podNetwork: false)` };
  return { network };
}
