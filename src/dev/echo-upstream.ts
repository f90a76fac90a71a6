/**
 * The built-in echo upstream of `serve --dev`: answers every request with
 * the method, path and headers it received as JSON, so a newcomer sees
 * their own X-Client-Subject-DN come back. Loopback only.
 */
import http from 'node:http';

export interface EchoUpstream {
  readonly url: string;
  close(): Promise<void>;
}

export async function startEchoUpstream(host = '127.0.0.1', port = 0): Promise<EchoUpstream> {
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers, bodyBytes: bytes }, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const a = server.address() as { port: number };
  return {
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
