// `ztproxy policy test`: the route and rule that decide, and the headers the
// upstream would receive, for each outcome (forward, deny, 421, 404, 400), as
// a library call and through the CLI (exit 0 forwarded, 1 refused, 3 bad input).
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPolicyTest, policyTest } from '../../src/proxy/policy-test.js';
import { loadConfig } from '../../src/config/index.js';
import { run } from '../../src/main.js';
import { makePki } from '../helpers/pki.js';

async function setup(t: Test) {
  const dir = t.testdir();
  const pki = await makePki(join(dir, 'pki'), { serverDns: ['api.internal', 'admin.internal'] });
  const alice = await pki.client('alice', { ou: ['dev'], uri: ['spiffe://example.org/ns/prod/sa/web'] });
  const mallory = await pki.client('mallory', { ou: ['dev'] });
  const file = join(dir, 'ztproxy.yaml');
  writeFileSync(
    file,
    `tls: { cert: ${pki.server.cert}, key: ${pki.server.key}, clientCA: ${pki.caCert} }
identityHeaders: { xfcc: true, serial: true }
routes:
  - name: admin
    host: admin.internal
    upstream: http://127.0.0.1:9001
    allow: { ou: [ops] }
  - name: api
    host: api.internal
    pathPrefix: /v1
    upstream: http://127.0.0.1:9002
    allow: { uri: ["spiffe://example.org/ns/*/sa/web"] }
    deny: { cn: [mallory] }
`,
  );
  return { file, alice, mallory, config: await loadConfig(file) };
}

t.test('library: each outcome with its route and rule', async (t) => {
  const { config, alice, mallory } = await setup(t);
  const cert = readFileSync(alice.cert);
  const ok = policyTest({ config, cert, url: 'https://api.internal/v1/../v1/%75sers?x=1', headers: ['X-Client-Subject-DN', 'CN=root', 'Accept', 'text/plain'] });
  t.equal(ok.outcome, 'forward');
  t.equal(ok.route?.name, 'api');
  t.equal(ok.rule, 'allow.uri=spiffe://example.org/ns/*/sa/web');
  t.equal(ok.path, '/v1/users?x=1', 'the normalized path that would be forwarded');
  const h = Object.fromEntries(Array.from({ length: ok.headers.length / 2 }, (_, i) => [ok.headers[2 * i]!.toLowerCase(), ok.headers[2 * i + 1]!]));
  t.equal(h['x-client-subject-dn'], 'CN=alice,OU=dev', 'the proxy-set DN, not the forged one');
  t.equal(ok.headers.filter((x) => x.toLowerCase() === 'x-client-subject-dn').length, 1);
  t.equal(h.accept, 'text/plain');
  t.equal(h.host, 'api.internal');
  t.match(h['x-forwarded-client-cert'], /^Hash=[0-9a-f]{64};Subject="CN=alice,OU=dev";URI="spiffe:\/\/example\.org\/ns\/prod\/sa\/web"$/);
  t.equal(h['x-client-serial'], ok.identity.serial);
  t.match(formatPolicyTest(ok), /route: api \(host api\.internal, pathPrefix \/v1\)\ndecision: forward: 200 from upstream, allow\.uri=spiffe:\/\/example\.org\/ns\/\*\/sa\/web\nupstream: http:\/\/127\.0\.0\.1:9002 \/v1\/users\?x=1\n/);

  const denied = policyTest({ config, cert: readFileSync(mallory.cert), url: 'https://api.internal/v1/x' });
  t.same([denied.outcome, denied.status, denied.route?.name, denied.rule, denied.headers], ['denied', 403, 'api', 'deny.cn=mallory', []], 'deny wins, no headers');
  const noAllow = policyTest({ config, cert, url: 'https://admin.internal/' });
  t.same([noAllow.outcome, noAllow.rule], ['denied', 'allow (no value matched)']);
  const misdirected = policyTest({ config, cert, url: 'https://admin.internal/', sni: 'api.internal' });
  t.same([misdirected.outcome, misdirected.status], ['misdirected', 421], 'SNI of one vhost, Host of another');
  const none = policyTest({ config, cert, url: 'https://api.internal/other' });
  t.same([none.outcome, none.status, none.route], ['no_route', 404, null]);
  const bad = policyTest({ config, cert, url: 'https://api.internal/v1/%zz' });
  t.same([bad.outcome, bad.status], ['bad_request', 400]);
  t.throws(() => policyTest({ config, cert: Buffer.from('not a cert'), url: 'https://api.internal/' }), { code: 'ZTP_POLICY_TEST' });
  t.throws(() => policyTest({ config, cert, url: 'http://api.internal/' }), { code: 'ZTP_POLICY_TEST' });
});

t.test('CLI: prints the decision; exit 0 forwarded, 1 refused, 3 bad input', async (t) => {
  const { file, alice, mallory } = await setup(t);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  const capture = async (args: string[]) => {
    out.length = 0;
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stderr.write;
    try {
      return await run(args);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
    }
  };
  t.equal(await capture(['policy', 'test', '--config', file, '--cert', alice.cert, '--url', 'https://api.internal/v1/x']), 0);
  t.match(out.join(''), /decision: forward: 200 from upstream, allow\.uri=/);
  t.match(out.join(''), /\n {2}x-client-subject-dn: CN=alice,OU=dev\n/);
  t.equal(await capture(['policy', 'test', '--config', file, '--cert', mallory.cert, '--url', 'https://api.internal/v1/x']), 1);
  t.match(out.join(''), /decision: deny: 403, deny\.cn=mallory/);
  t.equal(await capture(['policy', 'test', '--config', file, '--cert', alice.cert, '--url', 'https://api.internal/v1/x', '--json']), 0);
  const json = JSON.parse(out.join('')) as { outcome: string; route: { name: string }; identity: { subjectDN: string } };
  t.same([json.outcome, json.route.name, json.identity.subjectDN], ['forward', 'api', 'CN=alice,OU=dev']);
  t.equal(await capture(['policy', 'test', '--config', file, '--cert', '/nonexistent.crt', '--url', 'https://api.internal/']), 3);
  t.match(out.join(''), /^error: cannot read \/nonexistent\.crt/);
  t.equal(await capture(['policy', 'test', '--config', file, '--cert', alice.cert]), 2, 'missing --url is a usage error');
});

t.test('the request target and Host are decided as live (issue 13): raw, not as new URL() would rewrite them', async (t) => {
  const { config, alice } = await setup(t);
  const cert = readFileSync(alice.cert);
  const decide = (url: string) => {
    const r = policyTest({ config, cert, url });
    return `${r.status} ${r.route?.name ?? '-'} ${r.path ?? '-'}`;
  };
  t.equal(decide('https://api.internal/v1#frag'), '400 - -', 'a fragment is 400 (new URL would drop it)');
  t.equal(decide('https://api.internal/v1%2Fx'), '400 - -', 'an encoded slash is 400');
  t.equal(decide('https://api.internal/v1;x/users'), '200 api /v1;x/users', ';parameters: matched without, forwarded with');
  t.equal(decide('https://api.internal/x/..;/v1'), '400 - -', 'a dot-segment with parameters is 400');
  t.equal(decide('https://x@admin.internal/'), '400 - -', 'userinfo is 400 (new URL would drop it)');
  t.equal(decide('https://API.Internal.:443/v1/../v1/x'), '200 api /v1/x', 'Host in another spelling, dot-segments resolved');
  const r = policyTest({ config, cert, url: 'https://API.Internal.:443/v1/x' });
  t.equal(r.host, 'api.internal');
  t.equal(r.headers[r.headers.indexOf('host') + 1], 'api.internal:443', 'the forwarded Host is the canonical one');
});
