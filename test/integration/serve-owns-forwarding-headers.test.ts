// Forwarding headers are the proxy's own (issue 13): whatever Forwarded,
// X-Forwarded-For/Proto/Host/Port or X-Real-IP a client sends (any case, `_`
// for `-`, several copies), over HTTP/1.1 or HTTP/2, the upstream sees only
// the proxy's: X-Forwarded-For and X-Real-IP the peer address,
// X-Forwarded-Proto https, X-Forwarded-Host the validated Host, and no
// Forwarded or X-Forwarded-Port at all.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, startProxy, startUpstream } from '../helpers/proxy.js';
import { raw, statuses } from './hostile-harness.js';

const SPOOF: [string, string][] = [
  ['forwarded', 'for=203.0.113.9;proto=http;host=admin.internal'],
  ['x-forwarded-for', '203.0.113.9'],
  ['x-forwarded-proto', 'http'],
  ['x-forwarded-host', 'admin.internal'],
  ['x-forwarded-port', '80'],
  ['x-real-ip', '203.0.113.9'],
];

t.test("the upstream sees only the proxy's forwarding headers", async (t) => {
  const pki = await makePki(t.testdir());
  const alice = await pki.client('alice');
  const up = await startUpstream(t);
  const p = await startProxy(t, baseConfig(pki, up.url));
  const host = `localhost:${p.port}`;
  const lines = [...SPOOF.map(([n, v]) => `${n}: ${v}`), ...SPOOF.map(([n, v]) => `${n.toUpperCase()}: ${v}`), 'X_Real_IP: 203.0.113.9', 'X_Forwarded_For: 203.0.113.9', 'Forwarded: for=198.51.100.1'];
  const r = await raw(p.port, readFileSync(pki.caCert), alice, [`GET /h1 HTTP/1.1\r\nHost: ${host}\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`]);
  t.same(statuses(r.data), [200]);
  const session = await h2connect(t, p.port, pki.caCert, alice);
  const h2 = await h2request(session, { ':path': '/h2', ...Object.fromEntries(SPOOF.map(([n, v]) => [n, [v, v]])), x_real_ip: '203.0.113.9' });
  t.equal(h2.status, 200);
  t.equal(up.requests.length, 2);
  for (const rec of up.requests) {
    const name = rec.url;
    t.equal(rec.headers['x-forwarded-for'], '127.0.0.1', `${name}: X-Forwarded-For is the peer address only`);
    t.equal(rec.headers['x-real-ip'], '127.0.0.1', `${name}: X-Real-IP is the peer address`);
    t.equal(rec.headers['x-forwarded-proto'], 'https', `${name}: X-Forwarded-Proto`);
    t.equal(rec.headers['x-forwarded-host'], host, `${name}: X-Forwarded-Host is the validated Host`);
    t.notOk('forwarded' in rec.headers, `${name}: no Forwarded`);
    t.notOk('x-forwarded-port' in rec.headers, `${name}: no X-Forwarded-Port`);
    const raws = rec.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replaceAll('_', '-'));
    for (const n of ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host']) t.equal(raws.filter((x) => x === n).length, 1, `${name}: one ${n}`);
    t.notOk(JSON.stringify(rec.rawHeaders).includes('203.0.113.9') || JSON.stringify(rec.rawHeaders).includes('198.51.100.1'), `${name}: the spoofed addresses appear nowhere`);
  }
});
