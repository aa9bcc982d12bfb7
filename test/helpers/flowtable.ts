// The datapath's flow table read back from the kernel in tests.
import * as abi from '../../src/kernel/abi.js';
import type { NativeAddon } from '../../src/kernel/native.js';

/** The flows table's slots in use, read in place (mapped, as the agent reads it): a dump would copy 64 MiB. */
export function flowTable(n: NativeAddon, flowsFd: number): { index: number; keyBytes: Buffer; key: abi.FlowKey; value: abi.FlowValue }[] {
  const mapping = n.mapMmap(flowsFd);
  try {
    const t = Buffer.from(mapping);
    const size = abi.FlowLayout.vw_flow.size;
    const out: { index: number; keyBytes: Buffer; key: abi.FlowKey; value: abi.FlowValue }[] = [];
    for (let i = 0; i < t.length / size; i++) {
      if (t.readBigUInt64LE(i * size + abi.FlowLayout.vw_flow.fields.first_ns) === 0n) continue;
      const slot = abi.decodeFlowSlot(Buffer.from(t.subarray(i * size, (i + 1) * size)));
      if (slot) out.push({ index: i, ...slot, key: abi.decodeFlowKey(slot.keyBytes) });
    }
    return out;
  } finally {
    n.mapUnmap(mapping);
  }
}
