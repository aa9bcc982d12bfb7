// Who may call a TCP listener: the names a client certificate carries (its
// DNS and URI subject alternative names) against a list. The CA alone is not
// enough: every node holds the agents' one certificate (one Secret for the
// DaemonSet), so "signed by our CA" would let root on any node read every
// other node's agent. The check is one gRPC server interceptor (ApiServer),
// not a line in each handler, so no method (nor a new one) can skip it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';

/**
 * Who may call over TCP. `allowed`: the names (SAN DNS or URI) of which a
 * client certificate must carry one, or 'any' (any certificate of the CA: the
 * relay's own listener, for operators). `refused`: names that are never
 * allowed whatever `allowed` says (the agents' own identity).
 */
export interface ClientPolicy {
  allowed: readonly string[] | 'any';
  refused: readonly string[];
}

/**
 * The agents' default: the relay (deploy/relay.yaml's vrfwall-relay-tls) and
 * operators (a certificate issued as docs/flows.md says). Names, not CNs.
 */
export const RELAY_CLIENT_NAME = 'vrfwall-relay.vrfwall-system.svc';
export const OPERATOR_CLIENT_NAME = 'vrfwall-operator';
export const DEFAULT_ALLOWED_CLIENTS: readonly string[] = [RELAY_CLIENT_NAME, OPERATOR_CLIENT_NAME];

/**
 * The DNS and URI names of a certificate's subjectAltName text (Node's form:
 * `DNS:a, URI:spiffe://x, IP Address:1.2.3.4`; an entry holding a comma or a
 * quote is JSON-quoted). IP addresses and other kinds are not names here.
 * The subject's CN is never used: deploy/ issues names as SANs, and a CN is
 * whatever `openssl req -subj` was given (no fallback that a forgotten SAN
 * would silently turn on).
 */
export function sanNames(subjectAltName: string | undefined): string[] {
  const out: string[] = [];
  const s = subjectAltName ?? '';
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const kind = s.slice(i, colon);
    let value: string;
    let end: number;
    if (s[colon + 1] === '"') {
      // JSON string: find its closing quote (skipping escapes)
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(s.slice(colon + 1, j + 1)) as string;
      } catch {
        value = '';
      }
      end = j + 1;
    } else {
      const comma = s.indexOf(', ', colon + 1);
      end = comma < 0 ? s.length : comma;
      value = s.slice(colon + 1, end);
    }
    if ((kind === 'DNS' || kind === 'URI') && value !== '') out.push(value);
    i = s.startsWith(', ', end) ? end + 2 : end + 1;
  }
  return out;
}

/** The names of a PEM certificate file (the agent's own --grpc-tls-cert: the identity no client may show). */
export function certificateFileNames(file: string): string[] {
  return sanNames(new crypto.X509Certificate(fs.readFileSync(file)).subjectAltName);
}

/** A name as the allowed list may hold it: no wildcard (a wildcard certificate must not stand for a listed name). */
export function checkClientName(name: string): string | undefined {
  if (/[\s*"]/.test(name)) return 'is not a certificate name (no spaces, quotes or wildcards)';
  return undefined;
}

export type Verdict = { ok: true; name: string } | { ok: false; why: string };

/** Pure: may a client whose certificate carries these names call? */
export function authorise(names: readonly string[], policy: ClientPolicy): Verdict {
  const own = names.find((n) => policy.refused.includes(n));
  if (own !== undefined) return { ok: false, why: `its certificate names ${JSON.stringify(own)}, the agents' own identity: an agent's certificate does not open another agent` };
  if (policy.allowed === 'any') return { ok: true, name: names[0] ?? '' };
  const hit = names.find((n) => policy.allowed.includes(n));
  if (hit !== undefined) return { ok: true, name: hit };
  const shown = names.length > 0 ? `names ${names.map((n) => JSON.stringify(n)).join(', ')}` : 'has no DNS or URI name (subjectAltName)';
  return { ok: false, why: `its certificate ${shown}; allowed: ${policy.allowed.join(', ') || '(none)'}` };
}

/** A refused call, for the log: who (certificate fingerprint, names, address) and why. */
export interface Refusal {
  peer: string;
  fingerprint: string;
  names: string[];
  why: string;
}

/** Refusals are logged once per certificate (a refused relay retries every few seconds); the set is bounded. */
export class OncePerPeer {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 1000) {}
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    return true;
  }
}

/**
 * The interceptor: a call over TLS is checked against the policy; a call
 * without TLS is only let through on the unix socket (no local port: the
 * socket's mode 0600 is its check). A refused call ends PERMISSION_DENIED
 * before its handler runs.
 */
export function clientIdentityInterceptor(policy: ClientPolicy, onRefused: (r: Refusal) => void): grpc.ServerInterceptor {
  const once = new OncePerPeer();
  return (_method, call) => {
    const verdict = judge(call, policy);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (verdict.ok) next(metadata);
        else {
          if (once.first(verdict.refusal.fingerprint || verdict.refusal.peer)) onRefused(verdict.refusal);
          call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: `client not allowed: ${verdict.refusal.why}` });
        }
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

function judge(call: grpc.ServerInterceptingCallInterface, policy: ClientPolicy): { ok: true } | { ok: false; refusal: Refusal } {
  const auth = call.getAuthContext();
  const peer = call.getPeer();
  if (auth.transportSecurityType !== 'ssl') {
    if (call.getConnectionInfo().localPort === undefined) return { ok: true }; // the unix socket
    return { ok: false, refusal: { peer, fingerprint: '', names: [], why: 'no verified client certificate' } };
  }
  const cert: PeerCertificate | undefined = auth.sslPeerCertificate;
  if (!cert) return { ok: false, refusal: { peer, fingerprint: '', names: [], why: 'no verified client certificate' } };
  const names = sanNames(cert.subjectaltname);
  const v = authorise(names, policy);
  return v.ok ? { ok: true } : { ok: false, refusal: { peer, fingerprint: cert.fingerprint256, names, why: v.why } };
}
