import { defineConfig } from 'vitest/config';

// `make image-test` only: the built agent image run by podman (not part of
// `make test`, which has no image to run).
export default defineConfig({
  test: {
    include: ['test/image/*.check.ts'],
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
