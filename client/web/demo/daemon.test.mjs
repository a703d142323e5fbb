// Browsers join the daemons, in real Chromium (headless): a tab running life.wasm on a memory kept
// by wmd-wasm joins wmdd A over its WebSocket endpoint (connectDaemon); a wasm2c host
// (wmd-life-host) runs the same module with daemon A's segment as its memory; daemon B is A's
// TCP peer.
//
//   tab (Chromium) <==WebSocket==> wmdd A <--shm--> wmd-life-host (wasm2c)
//                                     ^==TCP==> wmdd B
//
// The tab and the host write different bytes of one page at the same moment (the tab, and a
// libwmd writer on A's segment), then play the game in turns (host even generations, tab odd
// ones), every step crossing the WebSocket. The tab's memory and A's segment end byte-identical
// (SHA-256), the host's result equals a single-process run; when the tab leaves, daemon B
// catches up and holds the same bytes. Every process the test started is stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { accepting, build, freePort, launchBrowser, startProcess, startServer, until } from './test_helpers.mjs';

const bin = path.join(build, 'bin');
const kSize = 3 * 65536;  // the module's initial memory; the game grows it
// Even, so the tab (role 1) computes the last one. The history outgrows the initial memory at
// generation 42 (computed by the tab: memory.grow) and 85 (the host: wmd_grow).
const kGenerations = 90;
const kOffsets = [36000, 36001];  // page 4, untouched by the module

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const shm = (segment) => `/dev/shm${segment}`;

test('a headless tab and a wasm2c host converge through wmdd', async (t) => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'wmd-join-'));
  const tag = `wmd-join-${process.pid}`;
  const segA = `/${tag}-A`;
  const segB = `/${tag}-B`;
  const children = [];
  let chromium;
  let passed = false;
  t.after(async () => {
    await chromium?.close();
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => child.exited));
    for (const seg of [segA, segB]) for (const suffix of ['', '.ctl', '.state']) rmSync(shm(seg) + suffix, { force: true });
    if (passed) rmSync(work, { recursive: true, force: true });
    else console.error(`logs kept in ${work}`);
  });
  const track = (child) => {
    children.push(child);
    return child;
  };

  // Two daemons; A also listens for WebSocket peers, with a token.
  const token = randomBytes(16).toString('base64');  // '+' and '/' exercise the URL's escaping
  const tokenFile = path.join(work, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const [portA, portB, portWs] = [await freePort(), await freePort(), await freePort()];
  const daemon = (name, segment, port, peer, extra) => track(startProcess(path.join(bin, 'wmdd'), [
    '--segment', segment, '--size', String(kSize), '--listen', `127.0.0.1:${port}`,
    '--peers', `127.0.0.1:${peer}`, '--id', `join-${name}`, '--log-level', 'info', ...extra,
  ], path.join(work, `wmdd-${name}.log`)));
  daemon('A', segA, portA, portB, ['--ws-listen', `127.0.0.1:${portWs}`, '--ws-token-file', tokenFile]);
  daemon('B', segB, portB, portA, []);
  await until('daemon A to accept WebSocket connections', () => accepting(portWs));

  // The tab joins daemon A.
  const { server, url: urlPromise } = startServer();
  track(server);
  server.exited = new Promise((resolve) => server.on('exit', resolve));
  const url = await urlPromise;
  chromium = await launchBrowser();
  const tab = await chromium.browser.newPage();
  tab.on('pageerror', (error) => console.error(`[tab] ${error.message}`));
  const ws = `ws://127.0.0.1:${portWs}/`;
  await tab.goto(`${url}?ws=${encodeURIComponent(ws)}&token=${encodeURIComponent(token)}&tab=tab-1&role=1`);
  await tab.waitForFunction(() => window.wmdDemo !== undefined, { timeout: 20000 });
  const call = (fn, ...args) => tab.evaluate(fn, ...args);
  assert.equal(await call(() => window.wmdDemo.joined()), true, 'catch-up with daemon A');

  // Both sides write different bytes of one page at the same moment.
  const writer = track(startProcess(path.join(bin, 'wmd-test-writer'), [segA], path.join(work, 'writer.log'),
    { stdin: 'pipe' }));
  writer.stdin.end(`w ${kOffsets[1]} 1 178\nf\nq\n`);
  await call((o) => window.wmdDemo.poke(o, 0xa1), kOffsets[0]);
  assert.equal(await writer.exited, 0, 'the libwmd writer');
  const segmentByte = (offset) => readFileSync(shm(segA)).at(offset);
  await until('both writes in the tab and in the segment', async () =>
    (await call((o) => window.wmdDemo.peek(o), kOffsets[1])) === 178 && segmentByte(kOffsets[0]) === 0xa1);

  // The game, in turns: the wasm2c host on A's segment steps even generations, the tab odd ones.
  await call((last) => window.wmdDemo.play(true, last), kGenerations);
  const host = track(startProcess(path.join(bin, 'wmd-life-host'), ['--segment', segA, '--role', '0', '--init',
    '--generations', String(kGenerations), '--render-every', '0', '--flush', '--timeout-ms', '20000'],
  path.join(work, 'host.log')));
  assert.equal(await host.exited, 0, 'the wasm2c host finished the game');
  await until('the tab to reach the last generation', async () =>
    (await call(() => window.wmdDemo.generation())) === kGenerations);
  const finalLine = (text) => /final generation \d+ checksum (\S+)/.exec(text)?.[1];
  const solo = await new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, 'wmd-life-host'), ['--solo', '--generations', String(kGenerations), '--render-every', '0']);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', () => resolve(out));
  });
  assert.equal(finalLine(readFileSync(path.join(work, 'host.log'), 'utf8')), finalLine(solo));

  // The tab's memory and A's segment: byte-identical, with both writes and the grown history.
  const segmentHash = (segment) => (existsSync(shm(segment)) ? sha256(readFileSync(shm(segment))) : '');
  await until('the tab and segment A to be byte-identical', async () =>
    (await call(() => window.wmdDemo.hash())) === segmentHash(segA), 20000);
  const size = await call(() => window.wmdDemo.size());
  assert.equal(readFileSync(shm(segA)).length, size);
  assert.equal(size, kSize + 2 * 65536, 'the game grew the memory on both sides');
  for (const [i, value] of [0xa1, 178].entries()) assert.equal(await call((o) => window.wmdDemo.peek(o), kOffsets[i]), value);
  const stats = await call(() => window.wmdDemo.sessionStats());
  assert.ok(stats.open && stats.patchesSent >= kGenerations / 2, JSON.stringify(stats));

  // The tab leaves; daemon A's catch-up with B carries what the tab wrote (patches are not
  // relayed, PROTOCOL.md 3.2), and B's segment is byte-identical too.
  assert.equal(await call(() => window.wmdDemo.leave()), 'null');
  await until('segment B to equal segment A', () => segmentHash(segB) === segmentHash(segA), 20000);
  assert.equal(segmentHash(segA), await call(() => window.wmdDemo.hash()));
  passed = true;
});
