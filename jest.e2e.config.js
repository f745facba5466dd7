// The end-to-end suite: every role as its own process from its built entry point (apps/*/dist), so
// `pnpm build` must have run. One test file at a time: each file starts a whole stack (Redis, the
// simulator, five roles), which is all a 2-core machine should carry at once.
const unit = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: unit.testEnvironment,
  testEnvironmentOptions: unit.testEnvironmentOptions,
  transform: unit.transform,
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/test/e2e/**/*.e2e.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  maxWorkers: 1,
  testTimeout: 60000,
  reporters: unit.reporters,
  forceExit: unit.forceExit,
};
