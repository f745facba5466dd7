// One jest run over every workspace package. Tests import workspace packages through the
// "@eufy-relay/source" export condition, so they run against src/ without a build step.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testEnvironmentOptions: {
    customExportConditions: ['@eufy-relay/source', 'node', 'require', 'default'],
  },
  roots: ['<rootDir>/apps', '<rootDir>/packages', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/test/e2e/'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/tools/jest-summary-reporter.cjs'],
  // On a 2-core machine jest runs the files in its own process; one handle a test file leaves open
  // (seen once in CI, not yet traced) would keep it alive after the last test and hang the run.
  // Every file cleans up what it asserts on; this only guarantees the process ends.
  forceExit: true,
};
