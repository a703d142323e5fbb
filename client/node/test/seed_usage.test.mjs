// The seed library's README usage runs unchanged apart from the package name, with the package
// installed as a dependency (node_modules/wmd).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { packageDir } from './helpers.mjs';
import { runSeedUsage } from './seed_usage_runner.mjs';

test("the seed README's usage runs on the addon package: both peers converge", () => {
  const out = runSeedUsage(packageDir, 'wmd');
  assert.deepEqual(out.a, [1, 2, 3, 0]);
  assert.deepEqual(out.b, [1, 2, 3, 0]);
  assert.equal(out.a100, 42);
  assert.equal(out.b70000, 7);
  assert.equal(out.sizeB, 2 * 65536);
  assert.deepEqual(out.clockA, { 'peer-a': 2, 'peer-b': 1 });
  assert.deepEqual(out.clockB, { 'peer-a': 2, 'peer-b': 1 });
});
