// The change listeners of a StateSource, for its onChange().
import type { Logger } from 'pino';
import type { ClusterState } from '../model/types.js';
import type { ObjectRef, StateListener } from './source.js';

/** A listener that throws is logged; the others still hear of the change. */
export class StateListeners {
  private readonly listeners = new Set<StateListener>();

  constructor(private readonly log: Logger) {}

  /** As StateSource.onChange: returns the function that unsubscribes. */
  add(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(state: ClusterState, changed: readonly ObjectRef[]): void {
    for (const listener of this.listeners) {
      try {
        listener(state, changed);
      } catch (e) {
        this.log.error({ err: e }, 'state listener failed');
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
