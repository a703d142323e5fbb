#!/usr/bin/env node
// Serves the multi-tab demo over http on 127.0.0.1 (BroadcastChannel needs a real origin; pages
// opened from file:// have none): the page (index.html, demo.mjs), the wmd-wasm package and the
// Game of Life module from a build tree.
//
//   node client/web/demo/serve.mjs [--build build] [--port 8411]
//
// Prints "serving http://127.0.0.1:PORT/" once listening (--port 0 picks a free port).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..');
const { values: opt } = parseArgs({
  options: {
    build: { type: 'string', default: path.join(repo, 'build') },
    port: { type: 'string', default: '8411' },
  },
});
const build = path.resolve(opt.build);

// URL prefix -> directory; nothing outside these is served.
const roots = [
  ['/wmd-wasm/', path.join(build, 'web', 'wmd-wasm')],
  ['/wasm/', path.join(build, 'wasm')],
  ['/', here],
];
const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };

const server = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  const pathname = url.pathname === '/' ? '/index.html' : decodeURIComponent(url.pathname);
  const [prefix, dir] = roots.find(([p]) => pathname.startsWith(p));
  const file = path.join(dir, pathname.slice(prefix.length));
  const type = types[path.extname(file)];
  if (!file.startsWith(dir + path.sep) || type === undefined || file.includes('node_modules')) {
    response.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(file);
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
server.listen(Number(opt.port), '127.0.0.1', () => {
  console.log(`serving http://127.0.0.1:${server.address().port}/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
