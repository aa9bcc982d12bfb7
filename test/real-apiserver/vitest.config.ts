import { defineConfig } from 'vitest/config';

// `make test-real-apiserver` only (test/real-apiserver/run.sh): one file,
// checks in order, long timeouts (the quiet-watch check waits QUIET_SECONDS).
export default defineConfig({
  test: {
    include: ['test/real-apiserver/*.check.ts'],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 600_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
