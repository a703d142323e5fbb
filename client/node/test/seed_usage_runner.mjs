// Runs seed_readme_usage.mjs in a fresh project whose node_modules holds the package under test,
// with the import's package name replaced by that package's name. Returns the printed JSON.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const usagePath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'seed_readme_usage.mjs');

export function runSeedUsage(packageDir, packageName) {
  const project = mkdtempSync(path.join(os.tmpdir(), 'wmd-seed-usage-'));
  try {
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(path.resolve(packageDir), path.join(project, 'node_modules', packageName), 'dir');
    const usage = readFileSync(usagePath, 'utf8').replace("from 'wmd';", `from '${packageName}';`);
    writeFileSync(path.join(project, 'usage.mjs'), usage);
    const out = execFileSync(process.execPath, ['usage.mjs'], { cwd: project, timeout: 30000 });
    return JSON.parse(out.toString().trim().split('\n').pop());
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

// What the usage must print: both peers hold both peers' writes and agree on the clock.
export function assertSeedUsageConverged(out) {
  assert.deepEqual(out.a, [1, 2, 3, 0]);
  assert.deepEqual(out.b, [1, 2, 3, 0]);
  assert.equal(out.a100, 42);
  assert.equal(out.b70000, 7);
  assert.equal(out.sizeB, 2 * 65536);
  assert.deepEqual(out.clockA, { 'peer-a': 2, 'peer-b': 1 });
  assert.deepEqual(out.clockB, { 'peer-a': 2, 'peer-b': 1 });
}
