// Lets a demo run under ts-node without a build: resolves the package's own
// entry points ('rxcrew', 'rxcrew/operators', 'rxcrew/testing', 'rxcrew/voice',
// 'rxcrew/llm') to the sources,
// as tsconfig's "paths" do for the type checker. Used by specs that spawn demos.
const Module = require('node:module');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const targets = {
  rxcrew: join(root, 'lib', 'index.ts'),
  'rxcrew/operators': join(root, 'operators', 'index.ts'),
  'rxcrew/testing': join(root, 'lib', 'testing', 'index.ts'),
  'rxcrew/voice': join(root, 'operators', 'voice.ts'),
  'rxcrew/llm': join(root, 'lib', 'llm', 'index.ts'),
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, targets[request] ?? request, ...rest);
};
