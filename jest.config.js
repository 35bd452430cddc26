/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleNameMapper: {
    '^rxcrew$': '<rootDir>/lib/index.ts',
    '^rxcrew/operators$': '<rootDir>/operators/index.ts',
    '^rxcrew/testing$': '<rootDir>/lib/testing/index.ts',
    '^rxcrew/voice$': '<rootDir>/operators/voice.ts',
    '^rxcrew/llm$': '<rootDir>/lib/llm/index.ts',
  },
  testTimeout: 20000,
  reporters: ['default', '<rootDir>/spec/support/summary-reporter.js'],
};
