// The Event recorder (src/sources/kube-events.ts) against a counting fake of
// the API: what a tenant's objects can make every agent write.
import pino from 'pino';
import type { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EventRecorder, type ObjectRef } from '../src/sources/kube-events.js';

/** Counts creates and patches per involved object; answers at once. */
function fakeCore() {
  const creates = new Map<string, number>();
  let patches = 0;
  const core = {
    createNamespacedEvent: async (req: { body: { involvedObject: { name?: string } } }) => {
      const name = req.body.involvedObject.name ?? '';
      creates.set(name, (creates.get(name) ?? 0) + 1);
      return req.body;
    },
    patchNamespacedEvent: async () => {
      patches++;
      return {};
    },
  };
  return { core: core as unknown as CoreV1Api, creates, patches: () => patches };
}

const svc = (name: string): ObjectRef => ({ kind: 'Service', apiVersion: 'v1', name, namespace: 'tenant', uid: `uid-${name}` });

describe('EventRecorder: bounded per object', () => {
  it('an object whose problem text keeps changing (a tenant flipping an annotation value) gets at most a burst of Events; other objects still get theirs', async () => {
    const f = fakeCore();
    const rec = new EventRecorder({ core: f.core, node: 'node1', log: pino({ level: 'silent' }), minIntervalMs: 0 });
    try {
      // Every update of the annotation is a new problem text, so a new Event
      // object, from every agent of the cluster.
      for (let i = 0; i < 300; i++) {
        rec.record(svc('flipper'), 'VrfwallProblem', `annotation vrfwall.dev/shared="x${i}" is neither "true" nor "false"; not shared`);
        await rec.flush();
      }
      // positive control: another object's problem is still written
      rec.record(svc('other'), 'VrfwallProblem', 'annotation vrfwall.dev/shared="no" is neither "true" nor "false"; not shared');
      await rec.flush();
      expect(f.creates.get('other')).toBe(1);
      expect(f.creates.get('flipper') ?? 0).toBeGreaterThan(0);
      expect(f.creates.get('flipper') ?? 0).toBeLessThanOrEqual(25); // client-go's spam filter burst
    } finally {
      rec.stop();
    }
  });
});
