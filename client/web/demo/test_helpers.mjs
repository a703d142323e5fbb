// Shared by the browser tests: polling, the demo server and a headless Chromium.
//
// WMD_BUILD_DIR: the build tree holding web/wmd-wasm, wasm/life.wasm and bin/ (default
// <repo>/build); WMD_CHROMIUM: the browser (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

export { freePort } from '../../node/test/free_port.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const build = process.env.WMD_BUILD_DIR ?? path.resolve(here, '..', '..', '..', 'build');
const chromium = process.env.WMD_CHROMIUM ?? '/usr/bin/chromium';

export async function until(what, condition, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The demo server (serve.mjs) on a free port: { server, url } (url: a promise of its address).
export function startServer() {
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

// Headless Chromium with a throw-away profile; close() stops it and removes the profile.
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'wmd-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Tabs in the background keep their timers (each scans and plays on them).
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows'],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Whether something accepts TCP connections on 127.0.0.1:port.
export function accepting(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

// A child process whose output goes to `log`; exited resolves with its exit code (or signal).
export function startProcess(file, args, log, options = {}) {
  const child = spawn(file, args, { stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(log);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return child;
}
