// The seed library's README usage runs unchanged apart from the package name, with the package
// installed as a dependency (node_modules/wmd).
import { test } from 'node:test';

import { packageDir } from './helpers.mjs';
import { assertSeedUsageConverged, runSeedUsage } from './seed_usage_runner.mjs';

test("the seed README's usage runs on the addon package: both peers converge", () => {
  assertSeedUsageConverged(runSeedUsage(packageDir, 'wmd'));
});
