// Sessions (rule 5) that the current policy no longer justifies. The datapath
// only ever lets replies through a session, but after a change (a router
// removed, a Service's network changed, a client moved to another network) a
// session of a connection that would now be refused would keep its reply
// direction open until the LRU evicts it. After every reconcile that changed
// a map the agent removes those: the session's client must still be allowed
// the server address:port/protocol by the desired services/backends entries.
import { decodeSessionKey, Layout, VW_SVC_ANY_VRF, type SessionKey } from '../bpf/abi.js';
import type { NativeAddon } from '../bpf/native.js';
import { serviceEntryKey, type DesiredState } from '../model/types.js';

/** Does the desired state still allow the connection this session records? */
export function sessionAllowed(s: SessionKey, desired: Pick<DesiredState, 'endpoints' | 'services' | 'backends'>): boolean {
  const client = desired.endpoints.get(s.saddr);
  if (client === undefined || client.vrfId === 0) return false;
  const lookup = { addr: s.daddr, port: s.dport, protocol: s.protocol };
  for (const map of [desired.services, desired.backends]) {
    if (map.has(serviceEntryKey({ ...lookup, clientVrf: client.vrfId }))) return true;
    if (map.has(serviceEntryKey({ ...lookup, clientVrf: VW_SVC_ANY_VRF }))) return true;
  }
  return false;
}

/** Delete the sessions `desired` no longer allows; returns how many. */
export function pruneSessions(
  bpf: NativeAddon,
  fd: number,
  desired: Pick<DesiredState, 'endpoints' | 'services' | 'backends'>,
): number {
  const dump = bpf.mapDump(fd);
  const size = Layout.vw_session_key.size;
  const stale: Buffer[] = [];
  for (let i = 0; i < dump.count; i++) {
    const key = dump.keys.subarray(i * size, (i + 1) * size);
    let keep = false;
    try {
      keep = sessionAllowed(decodeSessionKey(key), desired);
    } catch {
      keep = false; // a protocol we never write: not ours to keep
    }
    if (!keep) stale.push(Buffer.from(key));
  }
  // A session that vanished meanwhile (LRU) makes a batch delete fail: one by one.
  for (const key of stale) bpf.mapDelete(fd, key);
  return stale.length;
}
