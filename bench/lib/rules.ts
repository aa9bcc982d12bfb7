// The isolation vrfwall enforces, written the ways users of a flat CNI write
// it today, for N pods (the lab's real pods among synthetic ones):
//
// - iptables per pod: a dispatch chain with one rule per pod source jumping
//   to its namespace's chain, which has one ACCEPT rule per member pod and
//   drops other pod destinations. Evaluation is linear in pods.
// - iptables + ipset: one hash:ip set per namespace plus one of all pods; one
//   rule per namespace matching source and destination in the same set.
//   Linear in namespaces, constant in pods per namespace.
// - nftables sets and maps: a map pod -> namespace id sets the mark from the
//   source; a concatenated set (pod . id) checks the destination is in the
//   same namespace. Constant per packet.
//
// Pure functions: text for iptables-restore, ipset restore and nft -f.

export interface RulePod {
  ip: string;
  /** namespace (= network) the pod is isolated in */
  net: string;
}

/** IPv4 address of the i-th synthetic pod: 10.250.0.0/16 (outside the lab's ranges). */
export function syntheticIp(i: number): string {
  return `10.250.${(i >> 8) & 0xff}.${i & 0xff}`;
}

export const SYNTHETIC_CIDR = '10.250.0.0/16';

/**
 * `total` pods: `real` ones spread evenly through `total - real.length`
 * synthetic ones (so the real pods sit neither first nor last in a linear
 * rule list), synthetic pods `perNet` to a namespace.
 */
export function podSet(real: RulePod[], total: number, perNet: number): RulePod[] {
  const synth = Math.max(0, total - real.length);
  const out: RulePod[] = [];
  const every = synth / (real.length + 1);
  let r = 0;
  for (let i = 0; i < synth; i++) {
    while (r < real.length && i >= Math.round(every * (r + 1))) out.push(real[r++]!);
    out.push({ ip: syntheticIp(i), net: `synth${Math.floor(i / perNet)}` });
  }
  while (r < real.length) out.push(real[r++]!);
  return out;
}

function byNet(pods: RulePod[]): Map<string, RulePod[]> {
  const nets = new Map<string, RulePod[]>();
  for (const p of pods) (nets.get(p.net) ?? nets.set(p.net, []).get(p.net)!).push(p);
  return nets;
}

/** Chain and set names must be short: the namespace's index in first-seen order. */
function netIndex(pods: RulePod[]): Map<string, number> {
  const idx = new Map<string, number>();
  for (const p of pods) if (!idx.has(p.net)) idx.set(p.net, idx.size + 1);
  return idx;
}

export const CHAIN = 'VWB-ISOLATION';

/** iptables-restore input: one rule per pod in the dispatch chain, one per pod in its namespace chain. */
export function iptablesPerPod(pods: RulePod[], podCidrs: string[]): string {
  const idx = netIndex(pods);
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', `:${CHAIN} - [0:0]`];
  for (const i of idx.values()) lines.push(`:VWB-NET-${i} - [0:0]`);
  lines.push(`-A FORWARD -j ${CHAIN}`);
  lines.push(`-A ${CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`);
  for (const p of pods) lines.push(`-A ${CHAIN} -s ${p.ip}/32 -j VWB-NET-${idx.get(p.net)}`);
  lines.push(`-A ${CHAIN} -j ACCEPT`);
  for (const [net, members] of byNet(pods)) {
    const chain = `VWB-NET-${idx.get(net)}`;
    for (const m of members) lines.push(`-A ${chain} -d ${m.ip}/32 -j ACCEPT`);
    for (const c of podCidrs) lines.push(`-A ${chain} -d ${c} -j DROP`);
    lines.push(`-A ${chain} -j ACCEPT`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

export const IPSET_PREFIX = 'vwb';

export function ipsetNames(pods: RulePod[]): string[] {
  return [`${IPSET_PREFIX}-pods`, ...[...netIndex(pods).values()].map((i) => `${IPSET_PREFIX}-net-${i}`)];
}

/** `ipset restore` input and the iptables-restore input that uses the sets. */
export function ipsetRules(pods: RulePod[]): { sets: string; rules: string } {
  const idx = netIndex(pods);
  const sets: string[] = [];
  const all = `${IPSET_PREFIX}-pods`;
  sets.push(`create ${all} hash:ip family inet maxelem ${Math.max(65536, pods.length * 2)}`);
  for (const p of pods) sets.push(`add ${all} ${p.ip}`);
  for (const [net, members] of byNet(pods)) {
    const name = `${IPSET_PREFIX}-net-${idx.get(net)}`;
    sets.push(`create ${name} hash:ip family inet`);
    for (const m of members) sets.push(`add ${name} ${m.ip}`);
  }
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', `:${CHAIN} - [0:0]`];
  lines.push(`-A FORWARD -j ${CHAIN}`);
  lines.push(`-A ${CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`);
  lines.push(`-A ${CHAIN} -m set ! --match-set ${all} src -j ACCEPT`);
  lines.push(`-A ${CHAIN} -m set ! --match-set ${all} dst -j ACCEPT`);
  for (const i of idx.values()) {
    const name = `${IPSET_PREFIX}-net-${i}`;
    lines.push(`-A ${CHAIN} -m set --match-set ${name} src -m set --match-set ${name} dst -j ACCEPT`);
  }
  lines.push(`-A ${CHAIN} -j DROP`, 'COMMIT', '');
  return { sets: sets.join('\n') + '\n', rules: lines.join('\n') };
}

export const NFT_TABLE = 'vwbench';

/** `nft -f` input: one table, a pod -> namespace map and a (pod . namespace) set. */
export function nftSetsAndMaps(pods: RulePod[]): string {
  const idx = netIndex(pods);
  const all = pods.map((p) => p.ip).join(', ');
  const podNet = pods.map((p) => `${p.ip} : ${idx.get(p.net)}`).join(', ');
  const inNet = pods.map((p) => `${p.ip} . ${idx.get(p.net)}`).join(', ');
  return [
    `table ip ${NFT_TABLE} {`,
    `  set pods { type ipv4_addr; elements = { ${all} } }`,
    `  map pod_net { type ipv4_addr : mark; elements = { ${podNet} } }`,
    `  set pod_in_net { type ipv4_addr . mark; elements = { ${inNet} } }`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
    // Rule 6 as in the other rule sets: a side that is no pod is not isolated.
    '    ip saddr != @pods accept',
    '    ip daddr != @pods accept',
    '    meta mark set ip saddr map @pod_net',
    '    ip daddr . meta mark @pod_in_net accept',
    '    drop',
    '  }',
    '}',
    '',
  ].join('\n');
}
