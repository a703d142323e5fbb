// A TCP port free on 127.0.0.1 right now (for a wmdd a test starts). Shared by the Node and
// the browser tests; depends on nothing built.
import net from 'node:net';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
