// The multi-tab demo in real Chromium (headless, Debian's /usr/bin/chromium driven by
// puppeteer-core): tabs running life.wasm stay byte-identical over BroadcastChannel.
//
// WMD_BUILD_DIR: the build tree holding web/wmd-wasm and wasm/life.wasm (default <repo>/build);
// WMD_CHROMIUM: the browser (default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const build = process.env.WMD_BUILD_DIR ?? path.resolve(here, '..', '..', '..', 'build');
const chromium = process.env.WMD_CHROMIUM ?? '/usr/bin/chromium';

async function until(what, condition, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function startServer() {
  const server = spawn(process.execPath, [path.join(here, 'serve.mjs'), '--build', build, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /serving (http:\S+)/.exec(out);
      if (match) resolve(match[1]);
    });
    server.on('exit', (code) => reject(new Error(`the demo server exited (${code})`)));
  });
  return { server, url };
}

test('tabs of the demo converge: concurrent writes to one page, play, a late tab catches up', async (t) => {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'wmd-chromium-'));
  const { server, url: urlPromise } = startServer();
  let browser;
  t.after(async () => {
    await browser?.close();
    server.kill('SIGTERM');
    rmSync(profile, { recursive: true, force: true });
  });
  const url = await urlPromise;
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Tabs in the background keep their timers (each scans and plays on them).
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows'],
  });
  const open = async (tab, role) => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error(`[${tab}] ${error.message}`));
    await page.goto(`${url}?tab=${tab}&role=${role}`);
    await page.waitForFunction(() => window.wmdDemo !== undefined, { timeout: 20000 });
    return page;
  };
  const call = (page, fn, ...args) => page.evaluate(fn, ...args);
  const hashes = (pages) => Promise.all(pages.map((p) => call(p, () => window.wmdDemo.hash())));
  const identical = async (pages) => new Set(await hashes(pages)).size === 1;

  const tabs = [await open('A', 0), await open('B', 1), await open('C', 0)];
  await call(tabs[0], () => window.wmdDemo.init(2024));
  await until('every tab to hold generation 0', async () =>
    (await Promise.all(tabs.map((p) => call(p, () => window.wmdDemo.ready())))).every(Boolean));

  // Concurrent writes to different bytes of one 8 KiB page (page 4, untouched by the module):
  // every tab writes its own bytes before any scan could send them.
  const offsets = [36000, 36001, 36100];
  await Promise.all(tabs.map((p, i) => call(p, (o, v) => window.wmdDemo.poke(o, v), offsets[i], 0xa0 + i)));
  for (const p of tabs) {
    await until('every write to reach every tab', async () => {
      const seen = await Promise.all(offsets.map((o) => call(p, (x) => window.wmdDemo.peek(x), o)));
      return seen.every((v, i) => v === 0xa0 + i);
    });
  }

  // The tabs play in turns (roles 0 and 1) until generation 30, and stop.
  await Promise.all(tabs.map((p) => call(p, () => window.wmdDemo.play(true))));
  await until('generation 30', async () => (await call(tabs[0], () => window.wmdDemo.generation())) >= 30, 60000);
  await Promise.all(tabs.map((p) => call(p, () => window.wmdDemo.play(false))));

  // A tab opened now catches up: digests, then the pages that differ.
  tabs.push(await open('D', 1));
  await until('all four tabs to be byte-identical', () => identical(tabs), 30000);
  const sizes = await Promise.all(tabs.map((p) => call(p, () => window.wmdDemo.size())));
  assert.equal(new Set(sizes).size, 1);
  const generations = await Promise.all(tabs.map((p) => call(p, () => window.wmdDemo.generation())));
  assert.ok(generations.every((g) => g === generations[0] && g >= 30), String(generations));
  for (const p of tabs) {
    for (let i = 0; i < offsets.length; ++i) assert.equal(await call(p, (x) => window.wmdDemo.peek(x), offsets[i]), 0xa0 + i);
  }
});
