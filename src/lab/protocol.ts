// Data exchanged between the lab and its probe script, and the matrix format.

export interface ProbeTarget {
  /** "ns/pod"; the responder's reply must equal this */
  key: string;
  v4: string;
  v6: string;
  tcpPort: number;
  udpPort: number;
}

export interface ProbeRequest {
  timeoutMs: number;
  targets: ProbeTarget[];
}

/** Reachability of one destination pod from one source pod. */
export interface MatrixCell {
  icmp: boolean;
  tcp: boolean;
  udp: boolean;
  icmp6: boolean;
  tcp6: boolean;
  udp6: boolean;
}

export type ProbeResponse = Record<string, MatrixCell>;

/** `vrfwall lab matrix --json`: source "ns/pod" -> destination "ns/pod" -> cell. */
export interface Matrix {
  pods: Record<string, Record<string, MatrixCell>>;
}

export const CELL_FIELDS = ['icmp', 'tcp', 'udp', 'icmp6', 'tcp6', 'udp6'] as const;
