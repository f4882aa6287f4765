/**
 * The tier against a real Keystone and Glance (scripts/real-openstack.js):
 * one stack for the whole run, suites in band, the leftover check last.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/real'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  globalSetup: '<rootDir>/test/real/global-setup.ts',
  globalTeardown: '<rootDir>/test/real/global-teardown.ts',
  testSequencer: '<rootDir>/test/real/sequencer.js',
  testTimeout: 180000,
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
};
