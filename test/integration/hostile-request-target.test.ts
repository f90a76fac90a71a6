// The policy decides on what the upstream will route (issue 13), end to end
// over HTTP/1.1 (raw bytes on a TLS socket) and HTTP/2 (`:path` and
// `:authority` from node:http2): behind a /admin route that allows ou=ops,
// a client with ou=dev never reaches /admin through an encoded slash, a
// fragment, `;parameters` or a confusing Host. Each refused request is a 400
// (an HTTP/2 stream node:http2 itself refuses counts as refused too) and
// none reaches the upstream; `;parameters` are matched without them and
// forwarded with them; `paths.escapedSlashes: decode` authorizes on the
// decoded path and forwards it still encoded.
import t, { type Test } from 'tap';
import type { ClientHttp2Session } from 'node:http2';
import { h2connect, h2request } from '../helpers/h2.js';
import { makePki } from '../helpers/pki.js';
import { readFileSync } from 'node:fs';
import { baseConfig, startProxy, startUpstream, type RecordingUpstream } from '../helpers/proxy.js';
import { raw, statuses } from './hostile-harness.js';

async function setup(t: Test, paths?: Record<string, unknown>) {
  const pki = await makePki(t.testdir(), { serverDns: ['admin.internal'] });
  const up = await startUpstream(t);
  const alice = await pki.client('alice', { ou: ['dev'] });
  const root = await pki.client('root', { ou: ['ops'] });
  const routes = [
    { name: 'admin-host', host: 'admin.internal', upstream: up.url, allow: { ou: ['ops'] } },
    { name: 'admin', pathPrefix: '/admin', upstream: up.url, allow: { ou: ['ops'] } },
    { name: 'public', upstream: up.url },
  ];
  const p = await startProxy(t, baseConfig(pki, up.url, { routes, log: { access: false }, ...(paths && { paths }) }));
  return { pki, up, alice, root, p, ca: readFileSync(pki.caCert) };
}

/** HTTP/1.1: status of one request on its own connection. */
async function h1(port: number, ca: Buffer, client: { cert: string; key: string }, target: string, host = 'localhost', extra = ''): Promise<number> {
  const r = await raw(port, ca, client, [`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`]);
  return statuses(r.data)[0] ?? 0;
}

/** HTTP/2: status of one stream, or 'reset' when node:http2 refused it before an answer. */
async function h2(session: ClientHttp2Session, path: string, authority?: string): Promise<number | 'reset'> {
  try {
    return (await h2request(session, { ':path': path, ...(authority !== undefined && { ':authority': authority }) })).status;
  } catch {
    return 'reset';
  }
}

const REFUSED_PATHS = ['/admin%2Fusers', '/admin%2fusers/delete', '/admin%2F', '/admin%5Cusers', '/admin#', '/admin#/users', '/public/..;/admin', '/public/..;x/admin', '/.;/admin', '/public/%2e%2e;/admin', '/admin%00', '/%c0%afadmin', '/public/..%c0%afadmin'];
const PARAM_PATHS = ['/admin;x', '/admin;jsessionid=1/users', '/;x/admin', '/public;x/../admin;y'];
const REFUSED_HOSTS = ['x@admin.internal', 'admin.internal/', 'admin.internal\\', 'admin%2einternal', 'admin.internal?', 'admin.internal#', 'admin..internal', 'admin.internal:99999', '0x7f.1', '[::1%25lo]'];

function nothingReached(t: Test, up: RecordingUpstream, before: number, what: string) {
  t.same(up.requests.slice(before).map((r) => r.url), [], `${what}: nothing reached the upstream`);
}

t.test('HTTP/1.1: encoded slashes, fragments, dot-segments with parameters and confusing Hosts are 400', async (t) => {
  const { up, alice, root, p, ca } = await setup(t);
  // Each 400 closes its connection, so each case is a new TLS connection; the refusal does not depend on who asks.
  for (const path of REFUSED_PATHS) t.equal(await h1(p.port, ca, root, path), 400, `${path}: 400`);
  for (const host of REFUSED_HOSTS) t.equal(await h1(p.port, ca, root, '/', host), 400, `Host ${host}: 400`);
  nothingReached(t, up, 0, 'root (ou=ops, allowed on /admin)');
  t.equal(await h1(p.port, ca, alice, '/admin%252Fusers'), 200, 'double-encoded slash: a literal %2F after one decode, the open route');
});

t.test('HTTP/1.1: ;parameters are matched without them and forwarded with them', async (t) => {
  const { up, alice, root, p, ca } = await setup(t);
  for (const path of PARAM_PATHS) t.equal(await h1(p.port, ca, alice, path), 403, `alice ${path}: 403, routed as /admin`);
  t.equal(up.requests.length, 0, 'no denied request reached the upstream');
  for (const path of PARAM_PATHS) t.equal(await h1(p.port, ca, root, path), 200, `root ${path}: 200`);
  t.same(up.requests.map((r) => r.url).sort(), ['/admin;x', '/admin;jsessionid=1/users', '/;x/admin', '/admin;y'].sort(), 'forwarded with their parameters (dot-segments resolved)');
});

t.test('HTTP/1.1: the upstream gets the canonical Host', async (t) => {
  const { up, root, p, ca } = await setup(t);
  t.equal(await h1(p.port, ca, root, '/x', `LOCALHOST.:${p.port}`), 200);
  t.equal(up.requests.at(-1)?.headers.host, `localhost:${p.port}`, 'lower case, no trailing dot, plain port');
  t.equal(up.requests.at(-1)?.headers['x-forwarded-host'], `localhost:${p.port}`);
  t.equal(await h1(p.port, ca, root, '/x', 'ADMIN.INTERNAL.'), 200, 'a configured host in another spelling takes its route');
  t.equal(up.requests.at(-1)?.headers.host, 'admin.internal');
  t.equal(await h1(p.port, ca, root, 'https://admin.internal/x', 'admin.internal'), 200, 'absolute-form naming the Host');
  t.equal(await h1(p.port, ca, root, 'https://x@admin.internal/x', 'admin.internal'), 400, 'absolute-form with userinfo');
  t.equal(await h1(p.port, ca, root, 'https://admin.internal/x#y', 'admin.internal'), 400, 'absolute-form with a fragment');
});

t.test('HTTP/2: the same answers for :path and :authority', async (t) => {
  const { pki, up, alice, root, p } = await setup(t);
  const auth = `localhost:${p.port}`;
  for (const client of [alice, root]) {
    const s = await h2connect(t, p.port, pki.caCert, client);
    const before = up.requests.length;
    for (const path of REFUSED_PATHS) t.equal(await h2(s, path), 400, `:path ${path}: 400`);
    // nghttp2 itself resets a stream whose :authority has `/ \\ ? #` (RFC 9113 §8.3.1); the rest are ztproxy's 400.
    for (const host of REFUSED_HOSTS) t.ok([400, 'reset'].includes(await h2(s, '/', host)), `:authority ${host}: refused`);
    for (const path of PARAM_PATHS) t.equal(await h2(s, path), client === alice ? 403 : 200, `:path ${path}: routed as /admin`);
    const reached = up.requests.slice(before).map((r) => r.url);
    t.same(reached.sort(), client === alice ? [] : ['/admin;x', '/admin;jsessionid=1/users', '/;x/admin', '/admin;y'].sort(), 'only the allowed requests, with their parameters');
    t.equal(await h2(s, '/x', 'LOCALHOST.:' + p.port), 200);
    t.equal(up.requests.at(-1)?.headers.host, auth, 'the canonical :authority is the upstream Host');
  }
});

t.test('paths.escapedSlashes: decode authorizes on the decoded path and forwards it encoded', async (t) => {
  const { pki, up, alice, root, p, ca } = await setup(t, { escapedSlashes: 'decode' });
  for (const path of ['/admin%2Fusers', '/admin%2fusers/delete', '/admin%5Cx']) {
    t.equal(await h1(p.port, ca, alice, path), 403, `alice ${path}: 403 (it is /admin/… decoded)`);
  }
  t.equal(up.requests.length, 0);
  t.equal(await h1(p.port, ca, root, '/admin%2fusers/delete'), 200);
  t.equal(up.requests.at(-1)?.url, '/admin%2Fusers/delete', 'forwarded with the slash still encoded');
  t.equal(await h1(p.port, ca, root, '/x/../api/repos/o%2Fr'), 200);
  t.equal(up.requests.at(-1)?.url, '/api/repos/o%2Fr', 'an API that carries %2F in a segment keeps working');
  const before = up.requests.length;
  for (const path of ['/public/..%2Fadmin', '/public%2F..%2Fadmin', '/admin;x%2Fy', '/admin#']) t.equal(await h1(p.port, ca, root, path), 400, `${path}: 400`);
  const s = await h2connect(t, p.port, pki.caCert, alice);
  t.equal(await h2(s, '/admin%2Fusers'), 403, 'h2: the same decision');
  t.equal(await h2(s, '/public/..%2Fadmin'), 400);
  t.equal(up.requests.length, before, 'no refused request reached the upstream');
});
