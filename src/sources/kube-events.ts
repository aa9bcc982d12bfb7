// Per-object problems (a quarantined pod, a bad annotation) as core/v1
// Events on the object, so that `kubectl describe` shows them.
//
// Deduplicated the way kubectl users know: one Event per (object, type,
// reason, message), whose count and lastTimestamp grow on repeats. Bounded:
// at most `maxEntries` remembered (least recently used forgotten), writes of
// one Event at most every `minIntervalMs`, a few retries when the API server
// does not answer, then it is dropped (events are best effort; the log has it).
// New Events per object are rate-limited as client-go's spam filter does
// (a burst of 25, then one per 5 minutes): a problem text names what a tenant
// wrote (an annotation's value), so each edit would otherwise be one more
// Event from every agent of the cluster.
//
// Written as client-go's recorder writes them: created once, then counted up
// with a strategic merge patch of count, lastTimestamp and message (an
// expired Event, 404, is created again). Never a PUT: the agent's ClusterRole
// grants create and patch on Events, not update (deploy/rbac.yaml).
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorStatus } from './kube-informer.js';
import { abortable } from './kube-resources.js';

export interface ObjectRef {
  kind: string;
  apiVersion: string;
  name: string;
  /** absent for cluster-scoped objects (their Events go to "default") */
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  core: CoreV1Api;
  /** reportingInstance / source.host */
  node: string;
  log: Logger;
  component?: string;
  minIntervalMs?: number;
  maxEntries?: number;
  requestTimeoutMs?: number;
  /** new Events per object at once, then one per spamRefillMs (defaults 25, 5 min) */
  spamBurst?: number;
  spamRefillMs?: number;
}

/** A token bucket per involved object. */
interface Bucket {
  tokens: number;
  at: number;
}

interface Entry {
  key: string;
  ref: ObjectRef;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  first: Date;
  last: Date;
  /** the Event object's name once created */
  name?: string;
  dirty: boolean;
  writing: boolean;
  lastWrite: number;
  failures: number;
  timer?: NodeJS.Timeout;
}

const MAX_FAILURES = 5;
const MAX_MESSAGE = 1024;

export class EventRecorder {
  private readonly entries = new Map<string, Entry>(); // insertion order = least recently used first
  private readonly buckets = new Map<string, Bucket>(); // per object; least recently used first
  private readonly spamBurst: number;
  private readonly spamRefillMs: number;
  private readonly inflight = new Set<Promise<void>>();
  private readonly component: string;
  private readonly minIntervalMs: number;
  private readonly maxEntries: number;
  private readonly requestTimeoutMs: number;
  private stopped = false;

  constructor(private readonly o: EventRecorderOptions) {
    this.component = o.component ?? 'vrfwall-agent';
    this.minIntervalMs = o.minIntervalMs ?? 30_000;
    this.maxEntries = o.maxEntries ?? 512;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
    this.spamBurst = o.spamBurst ?? 25;
    this.spamRefillMs = o.spamRefillMs ?? 300_000;
  }

  /** Record that something happened to an object; returns at once. */
  record(ref: ObjectRef, reason: string, message: string, type: EventType = 'Warning'): void {
    if (this.stopped) return;
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
    const key = JSON.stringify([ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? '', type, reason, text]);
    const now = new Date();
    let e = this.entries.get(key);
    if (e !== undefined) {
      this.entries.delete(key); // re-inserted below: most recently used
      e.count++;
      e.last = now;
      e.dirty = true;
    } else {
      if (!this.allowNew(ref)) {
        this.o.log.debug({ object: `${ref.kind} ${ref.namespace ?? ''}/${ref.name}`, reason, message: text }, 'event dropped: too many for this object');
        return;
      }
      e = { key, ref, type, reason, message: text, count: 1, first: now, last: now, dirty: true, writing: false, lastWrite: 0, failures: 0 };
    }
    this.entries.set(key, e);
    this.evict();
    this.schedule(e);
  }

  /** May one more Event object be created about `ref`? Takes a token. */
  private allowNew(ref: ObjectRef): boolean {
    const key = JSON.stringify([ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? '']);
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: this.spamBurst, at: now };
    this.buckets.delete(key); // re-inserted below: most recently used
    b.tokens = Math.min(this.spamBurst, b.tokens + (now - b.at) / this.spamRefillMs);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens--;
    this.buckets.set(key, b);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxEntries) break;
      this.buckets.delete(k);
    }
    return ok;
  }

  /** Waits for writes under way and due now (for tests and shutdown). */
  async flush(): Promise<void> {
    for (const e of this.entries.values()) {
      if (e.timer !== undefined && e.dirty && !e.writing && Date.now() >= e.lastWrite + this.minIntervalMs) {
        clearTimeout(e.timer);
        e.timer = undefined;
        this.start(e);
      }
    }
    await Promise.all([...this.inflight]);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
  }

  private evict(): void {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      clearTimeout(e.timer);
      this.entries.delete(key);
    }
  }

  private schedule(e: Entry): void {
    if (e.writing || e.timer !== undefined || !e.dirty || this.stopped) return;
    const wait = Math.max(0, e.lastWrite + this.minIntervalMs - Date.now());
    if (wait === 0) {
      this.start(e);
      return;
    }
    e.timer = setTimeout(() => {
      e.timer = undefined;
      this.start(e);
    }, wait);
    e.timer.unref();
  }

  private start(e: Entry): void {
    const p = this.write(e).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async write(e: Entry): Promise<void> {
    if (!e.dirty || e.writing || this.stopped) return;
    e.writing = true;
    e.dirty = false;
    const namespace = e.ref.namespace ?? 'default';
    const options = abortable(AbortSignal.timeout(this.requestTimeoutMs));
    try {
      if (e.name !== undefined) {
        try {
          const patch = { count: e.count, lastTimestamp: e.last.toISOString(), message: e.message };
          await this.o.core.patchNamespacedEvent(
            { name: e.name, namespace, body: patch },
            setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, options),
          );
        } catch (err) {
          if (errorStatus(err) !== 404) throw err;
          e.name = undefined; // expired (events live about an hour): create it again
        }
      }
      if (e.name === undefined) {
        const name = `${e.ref.name.slice(0, 200)}.${randomBytes(8).toString('hex')}`;
        await this.o.core.createNamespacedEvent({ namespace, body: this.body(e, name, namespace) }, options);
        e.name = name;
      }
      e.failures = 0;
    } catch (err) {
      e.failures++;
      e.dirty = e.failures < MAX_FAILURES;
      const level = e.dirty ? 'debug' : 'warn';
      this.o.log[level]({ object: `${e.ref.kind} ${namespace}/${e.ref.name}`, reason: e.reason, err: String(err) }, 'could not write event');
    } finally {
      e.writing = false;
      e.lastWrite = Date.now();
      this.schedule(e);
    }
  }

  private body(e: Entry, name: string, namespace: string): CoreV1Event {
    return {
      metadata: { name, namespace },
      involvedObject: {
        kind: e.ref.kind,
        apiVersion: e.ref.apiVersion,
        name: e.ref.name,
        ...(e.ref.namespace !== undefined ? { namespace: e.ref.namespace } : {}),
        ...(e.ref.uid !== undefined ? { uid: e.ref.uid } : {}),
      },
      type: e.type,
      reason: e.reason,
      message: e.message,
      count: e.count,
      firstTimestamp: e.first,
      lastTimestamp: e.last,
      source: { component: this.component, host: this.o.node },
      reportingComponent: `vrfwall.dev/${this.component}`,
      reportingInstance: this.o.node,
    };
  }
}
