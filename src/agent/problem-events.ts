// Which problems of the cluster state this agent writes as Kubernetes Events.
//
// A pod's problem is the business of the agent of the pod's node only (N
// nodes must not write N Events about one pod); any other object's, of every
// agent. Each is told once per (problem, object, responsible node), while it
// lasts: a pod is first seen before the scheduler binds it, with no node, so
// no agent tells its problem then; once it is bound, the same problem is new
// for its node's agent, which tells it. Keyed by the problem's text alone it
// would be skipped as told already, and the Event never written.
import { splitAttachmentKey } from '../model/attachments.js';
import type { ClusterState, SourceProblem } from '../model/types.js';

export class ProblemEvents {
  private told = new Set<string>();

  constructor(private readonly nodeName: string) {}

  /** Of the current problems, those to write as Events now. */
  due(problems: Iterable<SourceProblem>, state: ClusterState): SourceProblem[] {
    const now = new Map<string, SourceProblem>();
    for (const p of problems) {
      const key = this.key(p, state);
      if (key !== undefined) now.set(key, p);
    }
    const out = [...now].filter(([key]) => !this.told.has(key)).map(([, p]) => p);
    this.told = new Set(now.keys());
    return out;
  }

  /** undefined: not this agent's to tell. */
  private key(p: SourceProblem, state: ClusterState): string | undefined {
    const text = `${p.source}: ${p.message}`;
    const claim = /^Pod (\S+)$/.exec(p.source)?.[1];
    if (claim === undefined) return JSON.stringify([text]);
    // "ns/pod@ifname": a secondary interface of the pod; its Event is the pod's.
    const [podKey] = splitAttachmentKey(claim);
    const pod = state.pods.get(podKey);
    const node = pod?.spec.nodeName;
    if (pod === undefined || node !== this.nodeName) return undefined;
    // The object is the pod of this uid (a pod deleted and made again under
    // the same name is another one), the responsible node its node.
    return JSON.stringify([text, pod.metadata.uid ?? '', node]);
  }
}
