// What the agent tells operators about its hooks and the node, beside the
// cluster-state problems: hooks where something ran before vrfwall (restored
// or not), and the findings of docs/limits.md. Logged at warn once per
// change (each restore every time: it is an event), counted for the metrics,
// and kept for the status file.
import type { Logger } from 'pino';
import type { TcDirection } from '../kernel/native.js';
import type { SourceProblem } from '../model/types.js';
import { programText, type OrderEvent } from './hookorder.js';
import { FINDING_KINDS, findingKey, type Finding, type FindingKind } from './limits.js';

/** A hook vrfwall does not run first on, and could not fix. */
export interface NotFirst {
  interface: string;
  pod?: string;
  direction: TcDirection;
  ahead: string[];
  why: string;
}

export interface ReportsSnapshot {
  /** times vrfwall found something ahead of it and moved itself first again, by direction */
  restored: Record<TcDirection, number>;
  notFirst: NotFirst[];
  findings: Finding[];
}

export interface HookNames {
  interface: string;
  pod?: string;
}

export class NodeReports {
  private readonly restored: Record<TcDirection, number> = { ingress: 0, egress: 0 };
  private notFirst: NotFirst[] = [];
  private findings: Finding[] = [];
  private lastNotFirst = new Set<string>();
  private lastFindings = new Set<string>();

  constructor(private readonly log: Logger) {}

  /**
   * The order events of one sync. Returns the problems to tell as Events
   * (on the pod whose hook it is): every restore, and each new unfixable hook.
   */
  hookOrder(events: OrderEvent[], names: (ifindex: number) => HookNames): SourceProblem[] {
    const problems: SourceProblem[] = [];
    const now: NotFirst[] = [];
    const keys = new Set<string>();
    for (const e of events) {
      const n = names(e.ifindex);
      const ahead = e.ahead.map(programText);
      const where = `${n.interface} ${e.dir}`;
      const fields = { interface: n.interface, ...(n.pod !== undefined ? { pod: n.pod } : {}), direction: e.dir, foreign: ahead };
      let message: string;
      if (e.restored) {
        this.restored[e.dir]++;
        this.log.warn(fields, 'vrfwall was not first on its hook: attached itself first again');
        message = `vrfwall was not first on ${where}: ${ahead.join(', ')} ran before it; it put itself first again`;
      } else {
        const why = e.why ?? 'unknown';
        now.push({ interface: n.interface, ...(n.pod !== undefined ? { pod: n.pod } : {}), direction: e.dir, ahead, why });
        const key = `${where}|${ahead.join(',')}|${why}`;
        keys.add(key);
        if (this.lastNotFirst.has(key)) continue;
        this.log.warn({ ...fields, why }, 'vrfwall cannot run first on its hook: what runs before it can bypass enforcement');
        message = `vrfwall cannot run first on ${where}: ${ahead.join(', ')} run(s) before it (${why})`;
      }
      if (n.pod !== undefined) problems.push({ source: `Pod ${n.pod}`, message });
    }
    this.notFirst = now;
    this.lastNotFirst = keys;
    return problems;
  }

  /** The findings of a detection run; logs the new ones. */
  setFindings(findings: Finding[]): void {
    const keys = new Set(findings.map(findingKey));
    for (const f of findings) {
      if (this.lastFindings.has(findingKey(f))) continue;
      this.log.warn({ finding: f.kind, subject: f.subject, detail: f.detail }, 'isolation limit detected (docs/limits.md)');
    }
    for (const key of this.lastFindings) {
      if (!keys.has(key)) this.log.info({ finding: key.split('|')[0], subject: key.split('|')[1] }, 'isolation limit no longer detected');
    }
    this.lastFindings = keys;
    this.findings = findings;
  }

  /** Findings per kind, every kind present (0 when none): the metric's labels. */
  findingCounts(): Record<FindingKind, number> {
    const out = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
    for (const f of this.findings) out[f.kind]++;
    return out;
  }

  snapshot(): ReportsSnapshot {
    return { restored: { ...this.restored }, notFirst: [...this.notFirst], findings: [...this.findings] };
  }
}
