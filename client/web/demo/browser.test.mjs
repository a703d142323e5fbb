// The multi-tab demo in real Chromium (headless, Debian's /usr/bin/chromium driven by
// puppeteer-core): tabs running life.wasm stay byte-identical over BroadcastChannel.
//
// WMD_BUILD_DIR: the build tree holding web/wmd-wasm and wasm/life.wasm (default <repo>/build);
// WMD_CHROMIUM: the browser (default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, until } from './test_helpers.mjs';

test('tabs of the demo converge: concurrent writes to one page, play, a late tab catches up', async (t) => {
  const { server, url: urlPromise } = startServer();
  let chromium;
  t.after(async () => {
    await chromium?.close();
    server.kill('SIGTERM');
  });
  const url = await urlPromise;
  chromium = await launchBrowser();
  const { browser } = chromium;
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
