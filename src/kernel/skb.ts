// The struct __sk_buff image BPF_PROG_TEST_RUN takes as context, and the
// explain-probe protocol on it: VW_PROBE_MAGIC in cb[0] and the agent's probe
// key (vw_config.probe_key) in cb[1] tell the programs to write nothing; they
// leave their decision in cb[2] (verdict) and cb[3] (allow rule or drop reason).
import { randomInt } from 'node:crypto';
import { VW_PROBE_MAGIC } from './abi.js';

/** struct __sk_buff (uapi linux/bpf.h); checked against the header and the kernel BTF by test/skb-offsets.test.ts. */
export const SKB_CTX_SIZE = 192;
export const SKB_IFINDEX_OFF = 40;
/** skb->ingress_ifindex (skb_iif): where a forwarded frame came in; 0 for the node's own */
export const SKB_INGRESS_IFINDEX_OFF = 36;
/** skb->cb[0] */
export const SKB_CB_OFF = 48;

/** A context with .ifindex set (the device must exist in the caller's netns); with a probe key, an explain probe. */
export function skbCtx(ifindex: number, probeKey?: number): Buffer {
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  ctx.writeUInt32LE(ifindex, SKB_IFINDEX_OFF);
  if (probeKey !== undefined) {
    ctx.writeUInt32LE(VW_PROBE_MAGIC, SKB_CB_OFF);
    ctx.writeUInt32LE(probeKey >>> 0, SKB_CB_OFF + 4);
  }
  return ctx;
}

/** A fresh probe key: random, never 0 (0 means "no probes"). */
export function newProbeKey(): number {
  return randomInt(1, 0x1_0000_0000);
}

/** The decision a probe run left in the returned context. */
export function probeDecision(ctxOut: Buffer): { verdict: number; code: number } {
  return { verdict: ctxOut.readUInt32LE(SKB_CB_OFF + 8), code: ctxOut.readUInt32LE(SKB_CB_OFF + 12) };
}
