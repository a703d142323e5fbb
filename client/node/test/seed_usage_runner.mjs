// Runs seed_readme_usage.mjs in a fresh project whose node_modules holds the package under test,
// with the import's package name replaced by that package's name. Returns the printed JSON.
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
