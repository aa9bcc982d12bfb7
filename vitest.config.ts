import { defineConfig } from 'vitest/config';

// Kernel tests share bpffs, network namespaces and 2 cores: run files one at a
// time. Unit files are fast, so the whole suite stays serial and simple.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
