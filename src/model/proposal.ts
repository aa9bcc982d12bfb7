// A what-if proposal: manifest documents parsed with the manifest source's
// own parser (src/sources/documents.ts) and applied as upserts over a COPY of
// a ClusterState. Pure: the caller's state is never changed. A document that
// does not parse rejects the whole proposal (nothing is judged on half of it).
import { objectKey, parseManifests, type ManifestObject } from '../sources/documents.js';
import { namespacedKey, type ClusterState, type NamespaceObject } from './types.js';

export interface ManifestText {
  file: string;
  text: string;
}

/** A proposal that cannot be used: `file: reason` for each bad document. */
export class ProposalError extends Error {}

export interface Proposal {
  objects: ManifestObject[];
  /** "Kind ns/name" of each object, sorted */
  applied: string[];
  /** warnings of the parser and documents of kinds vrfwall does not read */
  notes: string[];
}

/** Parse every document; any document that is lost (YAML error, unusable object) fails the whole proposal. */
export function parseProposal(docs: readonly ManifestText[]): Proposal {
  const errors: string[] = [];
  const notes: string[] = [];
  const byKey = new Map<string, ManifestObject>();
  for (const d of docs) {
    const parsed = parseManifests(d.text, d.file);
    if (parsed.lostContent) {
      errors.push(...parsed.problems.map((p) => `${p.source}: ${p.message}`));
      continue;
    }
    notes.push(...parsed.problems.map((p) => `${p.source}: ${p.message}`));
    for (const i of parsed.ignored) notes.push(`${i.source}: ${i.kind} (${i.apiVersion}) is not read by vrfwall; left out`);
    for (const { source, object } of parsed.objects) {
      const key = objectKey(object);
      const had = byKey.get(key);
      if (had !== undefined && JSON.stringify(had) !== JSON.stringify(object)) {
        errors.push(`${source}: ${key.replace('/', ' ')} is defined twice with different content`);
        continue;
      }
      byKey.set(key, object);
    }
  }
  if (errors.length > 0) throw new ProposalError(errors.join('; '));
  if (byKey.size === 0) throw new ProposalError(`${docs.map((d) => d.file).join(', ') || '(no documents)'}: no object vrfwall reads`);
  const objects = [...byKey.values()];
  const applied = objects.map(describe).sort();
  return { objects, applied, notes };
}

function describe(o: ManifestObject): string {
  return o.kind === 'Namespace' ? `Namespace ${o.metadata.name}` : `${o.kind} ${namespacedKey(o.metadata.namespace, o.metadata.name)}`;
}

/**
 * The state with the proposal's objects upserted (kind + namespace + name
 * replaces). What an API server would fill in and a manifest does not carry
 * is kept from the object it replaces: a Pod's node and addresses, a
 * Service's ClusterIPs. A pod in a namespace nobody declared makes that
 * namespace exist, as in the manifest source. `notes` gets what the
 * proposal cannot tell (a new pod without addresses has no endpoint).
 */
export function applyProposal(state: ClusterState, objects: readonly ManifestObject[], notes: string[] = []): ClusterState {
  const next: ClusterState = {
    namespaces: new Map(state.namespaces),
    pods: new Map(state.pods),
    nodes: state.nodes,
    virtualNetworks: new Map(state.virtualNetworks),
    routers: new Map(state.routers),
    services: new Map(state.services),
    endpointSlices: new Map(state.endpointSlices),
    attachmentDefinitions: new Map(state.attachmentDefinitions),
    networkPolicies: new Map(state.networkPolicies),
    problems: state.problems,
  };
  for (const o of objects) {
    switch (o.kind) {
      case 'Namespace':
        next.namespaces.set(o.metadata.name, o);
        break;
      case 'Pod': {
        const key = namespacedKey(o.metadata.namespace, o.metadata.name);
        const had = state.pods.get(key);
        let pod = o;
        if (had !== undefined && o.status.podIPs.length === 0) pod = { ...pod, status: had.status };
        if (had?.spec.nodeName !== undefined && o.spec.nodeName === undefined) pod = { ...pod, spec: { ...pod.spec, nodeName: had.spec.nodeName } };
        if (pod.status.podIPs.length === 0) notes.push(`Pod ${key}: no addresses (a new pod): it has no endpoint to judge`);
        next.pods.set(key, pod);
        if (!next.namespaces.has(o.metadata.namespace)) {
          const implicit: NamespaceObject = { kind: 'Namespace', metadata: { name: o.metadata.namespace, labels: {}, annotations: {} } };
          next.namespaces.set(o.metadata.namespace, implicit);
        }
        break;
      }
      case 'Service': {
        const key = namespacedKey(o.metadata.namespace, o.metadata.name);
        const had = state.services.get(key);
        const keepIps = had !== undefined && o.spec.clusterIPs.length === 0 && !o.spec.headless && o.spec.type !== 'ExternalName';
        next.services.set(key, keepIps ? { ...o, spec: { ...o.spec, clusterIPs: had.spec.clusterIPs } } : o);
        break;
      }
      case 'VirtualNetwork':
        next.virtualNetworks.set(namespacedKey(o.metadata.namespace, o.metadata.name), o);
        break;
      case 'VirtualNetworkRouter':
        next.routers.set(namespacedKey(o.metadata.namespace, o.metadata.name), o);
        break;
      case 'EndpointSlice':
        next.endpointSlices.set(namespacedKey(o.metadata.namespace, o.metadata.name), o);
        break;
      case 'NetworkAttachmentDefinition':
        next.attachmentDefinitions.set(namespacedKey(o.metadata.namespace, o.metadata.name), o);
        break;
      case 'NetworkPolicy':
        next.networkPolicies.set(namespacedKey(o.metadata.namespace, o.metadata.name), o);
        break;
    }
  }
  return next;
}
