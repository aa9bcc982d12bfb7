// The struct __sk_buff offsets src/kernel/skb.ts writes test-run contexts with,
// checked against the kernel's own definitions instead of trusted: the uapi
// header the programs compile against (/usr/include/linux/bpf.h, through a
// tiny C program's offsetof) and the running kernel's BTF
// (/sys/kernel/btf/vmlinux through bpftool, read-only; what BPF_PROG_TEST_RUN
// takes). No root and no BPF program needed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SKB_CB_OFF, SKB_CTX_SIZE, SKB_IFINDEX_OFF, SKB_INGRESS_IFINDEX_OFF } from '../src/kernel/skb.js';

/** What skb.ts claims: the byte offset of each member it writes or reads. */
const CLAIMED = {
  ifindex: SKB_IFINDEX_OFF,
  ingress_ifindex: SKB_INGRESS_IFINDEX_OFF,
  cb: SKB_CB_OFF,
} as const;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-skb-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('struct __sk_buff offsets (src/kernel/skb.ts)', () => {
  it('match the uapi header the programs are compiled against', () => {
    const src = path.join(tmp, 'skb.c');
    const bin = path.join(tmp, 'skb');
    fs.writeFileSync(
      src,
      [
        '#include <stddef.h>',
        '#include <stdio.h>',
        '#include <linux/bpf.h>',
        'int main(void) {',
        '  printf("{\\"size\\": %zu, \\"cbCount\\": %zu", sizeof(struct __sk_buff), sizeof(((struct __sk_buff *)0)->cb) / 4);',
        ...Object.keys(CLAIMED).map((m) => `  printf(", \\"${m}\\": %zu", offsetof(struct __sk_buff, ${m}));`),
        '  printf("}\\n");',
        '  return 0;',
        '}',
      ].join('\n'),
    );
    execFileSync(process.env.CC ?? 'cc', ['-Wall', '-Werror', '-o', bin, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    const c = JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as Record<string, number>;
    expect(c.size).toBe(SKB_CTX_SIZE);
    expect(c.cbCount).toBe(5); // the probe protocol uses cb[0..3]
    for (const [member, off] of Object.entries(CLAIMED)) expect(c[member], member).toBe(off);
  });

  it("match the running kernel's BTF (what BPF_PROG_TEST_RUN reads the context with)", () => {
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const lines = raw.split('\n');
    const at = lines.findIndex((l) => /^\[\d+\] STRUCT '__sk_buff' size=\d+ vlen=\d+$/.test(l));
    expect(at, 'struct __sk_buff in the kernel BTF').toBeGreaterThan(0);
    const size = Number(/size=(\d+)/.exec(lines[at]!)![1]);
    const members = new Map<string, number>();
    for (const l of lines.slice(at + 1)) {
      const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(l);
      if (!m) break;
      members.set(m[1]!, Number(m[2]) / 8);
    }
    expect(members.size).toBeGreaterThan(20);
    expect(size).toBe(SKB_CTX_SIZE);
    for (const [member, off] of Object.entries(CLAIMED)) expect(members.get(member), member).toBe(off);
  });
});
