/** Tests run from the TypeScript sources (transpiled by swc); `npm test` type-checks first. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 30000,
  // Service tests bind real sockets; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
};
