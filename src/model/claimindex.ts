// The frontend claims of the incremental compile (incremental.ts), kept per
// owner (a Service, a pod with hostPorts) and resolved per claim: a change of
// one owner re-resolves only the addresses it claims (and, for a NodePort,
// the frontends on node addresses with that port), and says which services
// map entries changed. Same rules as the whole-state resolveFrontends().
import type { ClientSet } from './clientsets.js';
import { claimClients, claimEntries, type FrontendClaim, type FrontendClaims } from './frontends.js';
import { addTo, removeFrom } from './indexes.js';
import { serviceEntryKey, type DesiredServiceEntry, type ServiceProblemKind, type SourceProblem } from './types.js';

interface OwnerClaim {
  addr: string;
  port: number;
  protocol: FrontendClaim['protocol'];
  marker: boolean;
  clients: ClientSet;
}

interface Report {
  owner: string;
  kind: ServiceProblemKind;
  message: string;
}

export class ClaimIndex {
  /** "addr|port|protocol" of every frontend outside the service ranges (ServiceContext.frontends). */
  readonly frontends = new Set<string>();
  private readonly markers = new Map<string, Set<string>>();
  private readonly markerCount = new Map<string, number>();
  /** owner -> its claims */
  private readonly ownerClaims = new Map<string, FrontendClaims>();
  /** claim -> owner -> what it claims */
  private readonly claimOwners = new Map<string, Map<string, OwnerClaim>>();
  private readonly claims: FrontendClaims = new Map();
  /** "port|protocol" -> claims on it (NodePort claims limit the others) */
  private readonly claimsByPort = new Map<string, Set<string>>();
  /** claim -> the services map keys it wrote */
  private readonly wrote = new Map<string, Set<string>>();
  private readonly reports = new Map<string, Report[]>();
  /** claims changed since the last resolve() */
  private readonly dirty = new Set<string>();

  /** An owner's marker claims (known before its clients are). True when the set of frontends changed. */
  setMarkers(owner: string, now: Set<string>): boolean {
    let changed = false;
    const old = this.markers.get(owner) ?? new Set<string>();
    for (const k of old) {
      if (now.has(k)) continue;
      const n = (this.markerCount.get(k) ?? 0) - 1;
      if (n > 0) this.markerCount.set(k, n);
      else {
        this.markerCount.delete(k);
        this.frontends.delete(k);
        changed = true;
      }
    }
    for (const k of now) {
      if (old.has(k)) continue;
      const n = (this.markerCount.get(k) ?? 0) + 1;
      this.markerCount.set(k, n);
      if (n === 1) {
        this.frontends.add(k);
        changed = true;
      }
    }
    if (now.size > 0) this.markers.set(owner, now);
    else this.markers.delete(owner);
    return changed;
  }

  /** Replace everything `owner` claims (one owner's claims, as claimFrontend made them). */
  setClaims(owner: string, now: FrontendClaims): void {
    for (const k of this.ownerClaims.get(owner)?.keys() ?? []) {
      removeFrom(this.claimOwners, k, owner);
      this.dirty.add(k);
    }
    for (const [k, c] of now) {
      let m = this.claimOwners.get(k);
      if (m === undefined) this.claimOwners.set(k, (m = new Map()));
      m.set(owner, { addr: c.addr, port: c.port, protocol: c.protocol, marker: c.marker, clients: c.owners.get(owner) ?? new Map() });
      this.dirty.add(k);
    }
    if (now.size > 0) this.ownerClaims.set(owner, now);
    else this.ownerClaims.delete(owner);
  }

  /**
   * Resolve the changed claims into `services` (their client and marker
   * entries), adding the keys it changed to `changed`. Returns the owners
   * whose conflict reports may have changed.
   */
  resolve(services: Map<string, DesiredServiceEntry>, changed: Set<string>): Set<string> {
    const owners = new Set<string>();
    for (const k of this.dirty) this.rebuild(k);
    // A NodePort claim also limits the frontends on node addresses with its port.
    const todo = new Set(this.dirty);
    for (const k of this.dirty) {
      const [addr, port, protocol] = k.split('|');
      if (addr === '::') for (const other of this.claimsByPort.get(`${port}|${protocol}`) ?? []) todo.add(other);
    }
    this.dirty.clear();
    for (const k of todo) {
      const c = this.claims.get(k);
      const reports: Report[] = [];
      const entries = new Map<string, DesiredServiceEntry>();
      if (c !== undefined) {
        const report = (owner: string, kind: ServiceProblemKind, message: string): void => void reports.push({ owner, kind, message });
        const own = claimClients(c, report);
        const wc = c.marker && c.addr !== '::' ? this.claims.get(`::|${c.port}|${c.protocol}`) : undefined;
        const wildcard = wc === undefined ? undefined : { claim: wc, clients: claimClients(wc, () => undefined) };
        claimEntries(c, own, wildcard, entries, report);
      }
      for (const r of [...(this.reports.get(k) ?? []), ...reports]) owners.add(r.owner);
      if (reports.length > 0) this.reports.set(k, reports);
      else this.reports.delete(k);
      for (const ek of this.wrote.get(k) ?? []) {
        if (entries.has(ek)) continue;
        services.delete(ek);
        changed.add(ek);
      }
      for (const [ek, e] of entries) {
        if (sameEntry(services.get(ek), e)) continue;
        services.set(ek, e);
        changed.add(ek);
      }
      if (entries.size > 0) this.wrote.set(k, new Set(entries.keys()));
      else this.wrote.delete(k);
    }
    return owners;
  }

  /** The conflicts reported against `owner`, counted by kind. */
  conflictsOf(owner: string): Partial<Record<ServiceProblemKind, number>> {
    const out: Partial<Record<ServiceProblemKind, number>> = {};
    for (const k of this.ownerClaims.get(owner)?.keys() ?? []) {
      for (const r of this.reports.get(k) ?? []) if (r.owner === owner) out[r.kind] = (out[r.kind] ?? 0) + 1;
    }
    return out;
  }

  problems(): SourceProblem[] {
    const out: SourceProblem[] = [];
    for (const [k, reports] of this.reports) if (this.claims.has(k)) for (const r of reports) out.push({ source: r.owner, message: r.message });
    return out;
  }

  /** The claim `k` from its owners' claims (marker: any owner's). */
  private rebuild(k: string): void {
    const old = this.claims.get(k);
    if (old !== undefined) removeFrom(this.claimsByPort, `${old.port}|${old.protocol}`, k);
    const owners = this.claimOwners.get(k);
    const first = owners?.values().next().value;
    if (owners === undefined || first === undefined) {
      this.claims.delete(k);
      return;
    }
    const c: FrontendClaim = { addr: first.addr, port: first.port, protocol: first.protocol, marker: false, owners: new Map() };
    for (const [o, x] of owners) {
      c.owners.set(o, x.clients);
      c.marker ||= x.marker;
    }
    this.claims.set(k, c);
    addTo(this.claimsByPort, `${c.port}|${c.protocol}`, k);
  }
}

export function sameEntry(a: DesiredServiceEntry | undefined, b: DesiredServiceEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return serviceEntryKey(a) === serviceEntryKey(b) && a.svcVrf === b.svcVrf && a.flags === b.flags;
}
