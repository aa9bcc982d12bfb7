// Where the agent gets cluster state from. Two implementations share this
// interface: local manifests (manifests.ts) and, later, the Kubernetes API.
import type { ClusterState, SourceProblem } from '../model/types.js';
import type { ObjectRef } from './changes.js';

export type { ObjectKind, ObjectRef } from './changes.js';

/** `changed`: the objects that differ from the previous notification's
 *  snapshot (changes.ts); the first notification lists every object. */
export type StateListener = (state: ClusterState, changed: readonly ObjectRef[]) => void;

export interface StateSource {
  /** Read the initial state and start watching. Resolves once current()
   *  reflects the source; rejects when the source cannot be used at all. */
  start(): Promise<void>;
  /** Stop watching; no notifications after it resolves. Idempotent. */
  stop(): Promise<void>;
  /** The latest snapshot. Snapshots are replaced, never mutated, so a caller
   *  may keep one while the source moves on. */
  current(): ClusterState;
  /** Called once per effective change (bursts of events are coalesced into
   *  one call, within about 50 ms). Returns a function that unsubscribes. */
  onChange(listener: StateListener): () => void;
  /** Optional: tell the cluster about a problem with one of its objects
   *  (the Kubernetes source writes an Event on it). False when it cannot. */
  reportProblem?(problem: SourceProblem): boolean;
}

export function emptyClusterState(): ClusterState {
  return {
    namespaces: new Map(),
    pods: new Map(),
    nodes: new Map(),
    virtualNetworks: new Map(),
    routers: new Map(),
    services: new Map(),
    endpointSlices: new Map(),
    attachmentDefinitions: new Map(),
    networkPolicies: new Map(),
    problems: [],
  };
}
