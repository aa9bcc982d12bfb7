// VirtualNetworkRouters -> which pairs of networks they join (design section
// 4). Pure. The compile step turns the pairs into the vrf_pairs map.
//
//   mesh:  every network the router selects reaches every other, and the
//          networks of the mesh routers it imports.
//   spoke: imports hub routers; its networks reach the hub's networks and
//          back. Spoke networks stay apart from each other.
//   hub:   its networks reach the networks of the spoke routers it imports
//          (a spoke importing the hub is enough; the hub importing the spoke
//          says the same). Hub networks stay apart from each other.
// Any other import (mesh importing hub, spoke importing spoke, ...) joins
// nothing and is reported.
//
// Which networks a router selects: its virtualNetworkSelector over the
// networks of its own namespace (VirtualNetworks there, plus the implicit
// network of the namespace when it is isolated, or the default network for a
// router in "default"). Implicit networks carry the label
// vrfwall.dev/network: "<ns>/default-podnetwork" (design section 4); a
// VirtualNetwork object of the same name adds its own labels to it.
import { selectorMatches, selectorText } from './selector.js';
import type { NamespaceObject, SourceProblem, VirtualNetworkObject, VirtualNetworkRouterObject } from './types.js';
import { compareText } from '../util/order.js';

/** The label the agent puts on implicit networks, for router selectors. */
export const NETWORK_LABEL = 'vrfwall.dev/network';
/** Set by the API server on every namespace; the local source behaves the same. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface RouterInputs {
  namespaces: ReadonlyMap<string, NamespaceObject>;
  virtualNetworks: ReadonlyMap<string, VirtualNetworkObject>;
  routers: ReadonlyMap<string, VirtualNetworkRouterObject>;
  /** Every network that exists ("ns/name"), implicit ones included. */
  networks: ReadonlySet<string>;
}

export interface RouterResult {
  /** Unordered pairs of distinct networks, as "a|b" with a < b. */
  pairs: Set<string>;
  /** router "ns/name" -> the networks it selects (for explain and tests) */
  selected: Map<string, string[]>;
  problems: SourceProblem[];
}

export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export function routerPairs(inputs: RouterInputs): RouterResult {
  const problems: SourceProblem[] = [];
  const labels = networkLabels(inputs);
  const routers = [...inputs.routers.values()].sort((a, b) => compareText(keyOf(a), keyOf(b)));

  const selected = new Map<string, string[]>();
  for (const r of routers) {
    const sel = r.spec.virtualNetworkSelector;
    const nets =
      sel === undefined
        ? []
        : [...labels]
            .filter(([net, l]) => namespaceOf(net) === r.metadata.namespace && selectorMatches(sel, l))
            .map(([net]) => net)
            .sort();
    selected.set(keyOf(r), nets);
    if (sel !== undefined && nets.length === 0) {
      problems.push({
        source: `VirtualNetworkRouter ${keyOf(r)}`,
        message: `virtualNetworkSelector ${selectorText(sel)} selects no network in namespace ${r.metadata.namespace}`,
      });
    }
  }

  const pairs = new Set<string>();
  const join = (as: string[], bs: string[]): void => {
    for (const a of as) for (const b of bs) if (a !== b) pairs.add(pairKey(a, b));
  };
  for (const r of routers) {
    const own = selected.get(keyOf(r)) ?? [];
    if (r.spec.type === 'mesh') join(own, own);
    for (const imported of importedRouters(r, routers, inputs.namespaces, problems)) {
      const theirs = selected.get(keyOf(imported)) ?? [];
      const ok =
        (r.spec.type === 'mesh' && imported.spec.type === 'mesh') ||
        (r.spec.type === 'spoke' && imported.spec.type === 'hub') ||
        (r.spec.type === 'hub' && imported.spec.type === 'spoke');
      if (ok) join(own, theirs);
      else {
        problems.push({
          source: `VirtualNetworkRouter ${keyOf(r)}`,
          message:
            `${r.spec.type} router imports ${imported.spec.type} router ${keyOf(imported)}: ` +
            'joins nothing (mesh imports mesh, spoke imports hub, hub imports spoke)',
        });
      }
    }
  }
  return { pairs, selected, problems };
}

/** Labels of every existing network: VirtualNetwork labels, and the implicit
 *  label on networks that exist without an object (or also have one). */
function networkLabels(inputs: RouterInputs): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const net of [...inputs.networks].sort()) {
    const vn = inputs.virtualNetworks.get(net);
    const implicit: Record<string, string> =
      vn === undefined || net.endsWith('/default-podnetwork') ? { [NETWORK_LABEL]: net } : {};
    out.set(net, { ...implicit, ...(vn?.metadata.labels ?? {}) });
  }
  return out;
}

function importedRouters(
  r: VirtualNetworkRouterObject,
  routers: VirtualNetworkRouterObject[],
  namespaces: ReadonlyMap<string, NamespaceObject>,
  problems: SourceProblem[],
): VirtualNetworkRouterObject[] {
  const out = new Map<string, VirtualNetworkRouterObject>();
  r.spec.imports.forEach((imp, i) => {
    const nsSel = imp.namespaceSelector;
    const inNamespace = (ns: string): boolean => {
      if (nsSel === undefined) return ns === r.metadata.namespace;
      const nsObj = namespaces.get(ns);
      if (nsObj === undefined) return false;
      return selectorMatches(nsSel, { ...nsObj.metadata.labels, [NAMESPACE_NAME_LABEL]: ns });
    };
    const found = routers.filter(
      (o) =>
        keyOf(o) !== keyOf(r) &&
        inNamespace(o.metadata.namespace) &&
        selectorMatches(imp.virtualNetworkRouterSelector, o.metadata.labels),
    );
    if (found.length === 0) {
      problems.push({
        source: `VirtualNetworkRouter ${keyOf(r)}`,
        message: `import ${i} (${selectorText(imp.virtualNetworkRouterSelector)}) matches no router`,
      });
    }
    for (const o of found) out.set(keyOf(o), o);
  });
  return [...out.values()];
}

function namespaceOf(network: string): string {
  return network.slice(0, network.indexOf('/'));
}

function keyOf(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

