// Which Services are shared (design section 3 rule 3): usable from every
// network. Pure.
//
//   - every Service of kube-system, and default/kubernetes: the cluster's own
//     Services (kube-dns, the API server), which CN2 gives every network;
//   - a Service annotated vrfwall.dev/shared: "true";
//   - every Service of a namespace annotated
//     opencontrail.org/isolation.service: "false" (legacy Contrail).
// Values are read like the isolation keys: trimmed, any case. A Service's
// own vrfwall.dev/shared: "false" wins over the rest (it can only close). A
// value that is neither true nor false shares nothing (fail closed) and is
// reported.
import type { NamespaceObject, ServiceObject, SourceProblem } from './types.js';

export const SHARED_ANNOTATION = 'vrfwall.dev/shared';
export const LEGACY_SERVICE_ISOLATION_ANNOTATION = 'opencontrail.org/isolation.service';

export interface Sharing {
  shared: boolean;
  /** Shared because it is one of the cluster's own Services (kube-system, default/kubernetes). */
  cluster: boolean;
  why: string;
  /** A bad value of the Service's own annotation (namespaces: namespaceSharingProblems). */
  problems: SourceProblem[];
}

export function sharingOf(svc: ServiceObject, ns: NamespaceObject | undefined): Sharing {
  const { namespace, name } = svc.metadata;
  const problems: SourceProblem[] = [];
  const ownValue = svc.metadata.annotations[SHARED_ANNOTATION];
  const own = boolAnnotation(ownValue);
  if (own === 'bad') {
    problems.push({
      source: `Service ${namespace}/${name}`,
      message: `annotation ${SHARED_ANNOTATION}=${JSON.stringify(ownValue)} is neither "true" nor "false"; not shared`,
    });
    return { shared: false, cluster: false, why: `annotation ${SHARED_ANNOTATION} has a bad value: not shared`, problems };
  }
  if (own === false) return { shared: false, cluster: false, why: `annotation ${SHARED_ANNOTATION}="false"`, problems };

  const legacy = boolAnnotation(ns?.metadata.annotations[LEGACY_SERVICE_ISOLATION_ANNOTATION]);

  if (namespace === 'kube-system') return { shared: true, cluster: true, why: 'a Service of kube-system', problems };
  if (namespace === 'default' && name === 'kubernetes') return { shared: true, cluster: true, why: 'the API server Service', problems };
  if (own === true) return { shared: true, cluster: false, why: `annotation ${SHARED_ANNOTATION}="true"`, problems };
  if (legacy === false) {
    const why = `namespace ${namespace} annotation ${LEGACY_SERVICE_ISOLATION_ANNOTATION}="false"`;
    return { shared: true, cluster: false, why, problems };
  }
  return { shared: false, cluster: false, why: 'not shared: answers the networks that may reach its backends', problems };
}

/** A bad legacy value on a namespace, reported once per namespace. */
export function namespaceSharingProblems(ns: NamespaceObject): SourceProblem[] {
  const value = ns.metadata.annotations[LEGACY_SERVICE_ISOLATION_ANNOTATION];
  if (boolAnnotation(value) !== 'bad') return [];
  return [
    {
      source: `Namespace ${ns.metadata.name}`,
      message:
        `annotation ${LEGACY_SERVICE_ISOLATION_ANNOTATION}=${JSON.stringify(value)} is neither "true" nor "false"; ` +
        'its Services are not shared by it',
    },
  ];
}

function boolAnnotation(value: string | undefined): boolean | 'bad' | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : 'bad';
}
