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
