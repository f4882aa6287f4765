/**
 * The guest tier (npm run test:guests): the emulator boots real guests under
 * QEMU from the image scripts/guest-image.sh builds, and dibctl tests them with
 * its generic tests. One suite at a time: each guest takes a core.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/guests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.js',
  testTimeout: 1_800_000,
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
};
