/** Jest runs the TypeScript sources through swc; workflow code is bundled by the Temporal worker itself. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // tiers that run on their own: npm run test:real (real Keystone and Glance), npm run test:cluster (Temporal on
  // PostgreSQL), npm run test:guests (real guests under QEMU)
  testPathIgnorePatterns: [
    '/node_modules/',
    '<rootDir>/test/real/',
    '<rootDir>/test/cluster/',
    '<rootDir>/test/guests/',
  ],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.js',
  testTimeout: 120000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/count-reporter.js'],
};
