// The CN2 example (examples/cn2-isolated-namespace) as tests that run it
// expect it: which network each matrix key (ns/pod, ns/pod@ifname) is in.
// It mirrors the README's expected tables, which examples.test.ts checks
// against the lab itself.
import path from 'node:path';
import { ROOT } from './lab.js';

export const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
export const ISOLATED = new Set(['isolated-namespace-demo/pod1', 'isolated-namespace-demo/pod2']);
/** The secondary interfaces (Multus) and their networks. */
export const SECONDARY: Record<string, string> = {
  'default/pod4@eth1': 'default/vn1',
  'default/vn1-pod@eth1': 'default/vn1',
  'default/vn2-pod@eth1': 'default/vn2',
};

/** The network of a matrix key. */
export function exampleNetwork(key: string): string {
  if (ISOLATED.has(key)) return 'isolated-namespace-demo/default-podnetwork';
  const secondary = SECONDARY[key];
  if (secondary !== undefined) return secondary;
  if (key.includes('@')) throw new Error(`${key}: not an interface of the example`);
  return 'default/default-podnetwork';
}

/** Whether the example lets `a` reach `b` (no router, no shared pod). */
export function exampleOpen(a: string, b: string): boolean {
  return exampleNetwork(a) === exampleNetwork(b);
}

/** The same with the namespace's isolation label removed: its pods join the default network, vn1 and vn2 stay apart. */
export function exampleOpenUnisolated(a: string, b: string): boolean {
  const net = (k: string): string => (ISOLATED.has(k) ? 'default/default-podnetwork' : exampleNetwork(k));
  return net(a) === net(b);
}

/** A lab's matrix keys of its pods: each pod's own interface and its secondary ones ("ns/pod@ifname"). */
export function interfaceKeys(pods: readonly { key: string; attachments?: readonly { interface: string }[] }[]): string[] {
  return pods.flatMap((p) => [p.key, ...(p.attachments ?? []).map((a) => `${p.key}@${a.interface}`)]);
}

/** The node-side interfaces of a lab's pods: their own and their secondary ones. */
export function hostInterfaces(pods: readonly { hostIf?: string; attachments?: readonly { hostIf: string }[] }[]): string[] {
  return pods.flatMap((p) => [...(p.hostIf !== undefined ? [p.hostIf] : []), ...(p.attachments ?? []).map((a) => a.hostIf)]);
}
