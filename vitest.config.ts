import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/globalSetup.ts'],
    include: ['test/**/*.test.ts'],
    // test/distributed starts its own distributed engine (setup-engine.sh --distributed): only with ROSTER_DISTRIBUTED set.
    exclude: [...configDefaults.exclude, ...(process.env.ROSTER_DISTRIBUTED ? [] : ['test/distributed/**'])],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
