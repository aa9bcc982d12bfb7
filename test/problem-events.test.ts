// Which problems an agent writes as Kubernetes Events (src/agent/problem-events.ts):
// once per (problem, object, node responsible), a pod's only by its node's agent.
import { describe, expect, it } from 'vitest';
import { ProblemEvents } from '../src/agent/problem-events.js';
import type { ClusterState, PodObject, SourceProblem } from '../src/model/types.js';
import { emptyClusterState } from '../src/sources/source.js';

function pod(name: string, node: string | undefined, uid: string): PodObject {
  return {
    kind: 'Pod',
    metadata: { name, namespace: 'team-a', uid, labels: {}, annotations: {} },
    spec: { ...(node !== undefined ? { nodeName: node } : {}), hostNetwork: false, ports: [] },
    status: { podIPs: [] },
  };
}

function state(...pods: PodObject[]): ClusterState {
  const s = emptyClusterState();
  for (const p of pods) s.pods.set(`team-a/${p.metadata.name}`, p);
  return s;
}

const quarantined: SourceProblem = { source: 'Pod team-a/web', message: 'quarantined: network team-a/nope does not exist' };
const service: SourceProblem = { source: 'Service team-a/svc', message: 'endpoints of another namespace' };

describe('problem Events', () => {
  it('a pod first seen unscheduled: no Event by anyone; once bound, by its node’s agent (same problem text)', () => {
    const node1 = new ProblemEvents('node1');
    const node2 = new ProblemEvents('node2');
    const pending = state(pod('web', undefined, 'u1'));
    expect(node1.due([quarantined], pending)).toEqual([]);
    expect(node2.due([quarantined], pending)).toEqual([]);
    const bound = state(pod('web', 'node1', 'u1'));
    expect(node1.due([quarantined], bound)).toEqual([quarantined]);
    expect(node2.due([quarantined], bound)).toEqual([]);
    // Told while it lasts: not again on the next reconciles.
    expect(node1.due([quarantined], bound)).toEqual([]);
    expect(node1.due([quarantined], bound)).toEqual([]);
  });

  it('told again when it comes back, and for a new pod of the same name', () => {
    const a = new ProblemEvents('node1');
    const s1 = state(pod('web', 'node1', 'u1'));
    expect(a.due([quarantined], s1)).toEqual([quarantined]);
    expect(a.due([], s1)).toEqual([]); // gone
    expect(a.due([quarantined], s1)).toEqual([quarantined]); // back
    expect(a.due([quarantined], state(pod('web', 'node1', 'u2')))).toEqual([quarantined]); // deleted and made again
  });

  it('problems of other objects: by every agent, once while they last', () => {
    const a = new ProblemEvents('node1');
    const b = new ProblemEvents('node2');
    const s = state();
    expect(a.due([service], s)).toEqual([service]);
    expect(b.due([service], s)).toEqual([service]);
    expect(a.due([service], s)).toEqual([]);
    // A pod unknown to the state (gone meanwhile): nobody's.
    expect(a.due([{ source: 'Pod team-a/gone', message: 'x' }], s)).toEqual([]);
  });
});

describe('problem Events of a secondary interface (issue 14)', () => {
  it('"Pod ns/pod@eth1" is the pod’s: told by its node’s agent only', () => {
    const att: SourceProblem = { source: 'Pod team-a/web@eth1', message: 'quarantined: interface eth1 (NetworkAttachmentDefinition team-a/vn1): NetworkAttachmentDefinition team-a/vn1 does not exist' };
    const s = state(pod('web', 'node1', 'u1'));
    expect(new ProblemEvents('node1').due([att], s)).toEqual([att]);
    expect(new ProblemEvents('node2').due([att], s)).toEqual([]);
  });
});
