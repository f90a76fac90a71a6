// Issue 14, item 7: /readyz is 503 while no upstream address accepts a TCP
// connection (probed every metrics.upstreamProbeIntervalMs), 200 once one
// does, with each address listed in `checks`; /healthz stays 200 throughout.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { startServe, until } from '../helpers/cli.js';
import { makePki } from '../helpers/pki.js';

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

t.test('/readyz follows upstream reachability; /healthz does not', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const upPort = await freePort();
  const origin = `http://127.0.0.1:${upPort}`;
  const config = join(dir, 'ztproxy.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      listen: '127.0.0.1:0',
      workers: 1,
      tls: { cert: pki.server.cert, key: pki.server.key, clientCA: pki.caCert },
      routes: [{ name: 'default', upstream: origin }],
      metrics: { listen: '127.0.0.1:0', upstreamProbeIntervalMs: 200 },
    }),
  );
  const p = await startServe(t, ['--config', config]);
  const m = p.metricsPort!;
  const down = await until(async () => {
    const r = await get(m, '/readyz');
    return r.status === 503 && r.body.includes(`"upstream ${origin}":false`) ? r : null;
  }, '/readyz 503 with the upstream down');
  t.match(JSON.parse(down.body), { ok: false, checks: { listening: true, [`upstream ${origin}`]: false } }, 'not ready; the address is listed as unreachable');
  t.equal((await get(m, '/healthz')).status, 200, '/healthz is process-only');

  const up = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => up.listen(upPort, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    up.closeAllConnections();
    up.close(() => r());
  }));
  const ready = await until(async () => {
    const r = await get(m, '/readyz');
    return r.status === 200 ? r : null;
  }, '/readyz 200 once the upstream is up');
  t.match(JSON.parse(ready.body), { ok: true, checks: { [`upstream ${origin}`]: true } }, 'ready; the address is reachable');

  up.closeAllConnections();
  await new Promise<void>((r) => up.close(() => r()));
  await until(async () => (await get(m, '/readyz')).status === 503, '/readyz 503 again once the upstream is gone');
  t.pass('not ready again after the upstream went away');
  t.equal((await get(m, '/healthz')).status, 200, '/healthz still 200');
});
