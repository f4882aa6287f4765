/**
 * The production topology (npm run test:cluster): Temporal on PostgreSQL from
 * deploy/ and docker-compose.yml, two `dibctl worker` hosts, one cluster for the
 * whole run, suites in band.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/cluster'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  globalSetup: '<rootDir>/test/cluster/global-setup.js',
  testTimeout: 180000,
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
};
