import { defineConfig } from 'vitest/config';

/**
 * Files of the `unit` project: no root, no kernel (no BPF program or map, no
 * network namespace, no lab, no native addon), a few seconds each; they may
 * run side by side (`make test-unit`). Every other file is in `kernel`. A new
 * file lands in `kernel` until it is listed here; test/test-projects.test.ts
 * checks that each listed file exists and imports nothing that needs root or
 * the kernel.
 */
export const UNIT_TESTS = [
  'abi',
  'api-encode',
  'api-types',
  'attachments', 'kube-source-multus', 'api-multus', // issue 14 (mmodel)
  'api-tls',
  'cli-flows',
  'compile',
  'compile-incremental',
  'compile-routers',
  'compile-service-chains',
  'compile-services',
  'audit-model', // issue 19 item 1 (audit)
  'config',
  'contract-refs',
  'discovery',
  'documents',
  'flow-reader',
  'flow-export', 'flow-export-relay', // issue 15 item 3 (export)
  'flows',
  'images',
  'kube-events',
  'kube-paging',
  'kube-source',
  'lab-attachments',
  'lab-boundary',
  'multus',
  'multus-claims',
  'netpol-model', // issue 16 (npmodel)
  'manifests',
  'manifests-incremental',
  'manifests-networks',
  'manifests-worker',
  'mapwriter',
  'netlink-monitor',
  'netlink-monitor-process',
  'placement',
  'problem-events',
  'readme-matrix',
  'relay',
  'relay-trust',
  'relay-identity', // issue 15 review follow-up (ident)
  'relay-ui-model', // issue 15 item 2 (webui)
  'reconcile-loop',
  'skb-offsets',
  'test-projects',
  'vrf',
  'whatif', // issue 19 item 2 (whatif)
  'netpol-oracle', 'lab-netpol-manifests', // issue 16 (nplab)
  'workqueue',
  'yaml-paths',
].map((name) => `test/${name}.test.ts`);

// Kernel tests share bpffs, network namespaces and 2 cores: files run one at
// a time (`make test`, what CI runs, keeps that for both projects).
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_TESTS } },
      { extends: true, test: { name: 'kernel', include: ['test/**/*.test.ts'], exclude: UNIT_TESTS } },
    ],
  },
});
