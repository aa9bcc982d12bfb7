// Giving back the memory a burst of work leaves behind. The first sync of a
// large cluster allocates several times what the agent then holds (parsed
// documents, the first compile, map images); V8 keeps those pages committed
// (and resident) until its memory reducer runs, which an agent that is idle
// afterwards may not trigger for a long time. A full collection right after
// such a burst returns them, once, at a moment when the agent has nothing else
// to do.
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

/** A full, compacting garbage collection; false when this V8 does not offer one. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    try {
      // The documented flag, set at run time: `gc` is then a global of new contexts.
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      gc = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      gc = null;
    }
  }
  if (gc === null) return false;
  gc();
  return true;
}
