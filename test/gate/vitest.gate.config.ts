// The gate's own check: the suite's real global setup (embedded PostgreSQL) around one fixture file.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/gate/fixtures/*.gate.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    hookTimeout: 120_000,
  },
});
