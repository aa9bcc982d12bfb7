// How a pod's address is named everywhere it is shown: "ns/pod" for its
// cluster-network interface, "ns/pod@eth1" for a secondary one (Multus), the
// same key the compile step uses for that interface (attachments.ts).

/** "ns/pod" or "ns/pod@ifname"; "" when not a pod. */
export function podLabel(e: { namespace: string; pod: string; interface: string }): string {
  if (!e.pod) return '';
  return e.interface ? `${e.namespace}/${e.pod}@${e.interface}` : `${e.namespace}/${e.pod}`;
}
