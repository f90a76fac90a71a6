// parseAuthority: Host and :authority are a host name, an IPv4 literal or a
// bracketed IPv6 literal, optionally :port; anything an application could
// read as another host is refused. The forwarded value is canonical.
import t from 'tap';
import { parseAuthority } from '../../src/proxy/authority.js';
import { resolveConfig } from '../../src/config/index.js';
import { Router } from '../../src/proxy/router.js';

t.test('accepted, with the canonical host and forwarded value', async (t) => {
  const cases: [string, string, string][] = [
    ['admin.internal', 'admin.internal', 'admin.internal'],
    ['Admin.Internal', 'admin.internal', 'admin.internal'],
    ['admin.internal.', 'admin.internal', 'admin.internal'],
    ['ADMIN.internal.:8443', 'admin.internal', 'admin.internal:8443'],
    ['admin.internal:0443', 'admin.internal', 'admin.internal:443'],
    ['localhost', 'localhost', 'localhost'],
    ['my_service', 'my_service', 'my_service'],
    ['a-b.c1.d', 'a-b.c1.d', 'a-b.c1.d'],
    ['127.0.0.1:8443', '127.0.0.1', '127.0.0.1:8443'],
    ['10.0.0.1.', '10.0.0.1', '10.0.0.1'],
    ['[::1]', '[::1]', '[::1]'],
    ['[::1]:443', '[::1]', '[::1]:443'],
    ['[0:0:0:0:0:0:0:1]', '[::1]', '[::1]'],
    ['[2001:DB8::1]:8443', '[2001:db8::1]', '[2001:db8::1]:8443'],
    ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::ffff:7f00:1]'],
    ['9x.example', '9x.example', '9x.example'],
  ];
  for (const [raw, host, value] of cases) t.same(parseAuthority(raw), { host, value }, raw);
});

t.test('refused', async (t) => {
  const bad = [
    undefined,
    '',
    'x@admin.internal',
    '@admin.internal',
    'user:pw@admin.internal',
    'admin.internal/',
    'admin.internal/x',
    'admin.internal\\',
    'admin%2einternal',
    'admin.internal?',
    'admin.internal#',
    'admin.internal#x',
    'admin internal',
    ' admin.internal',
    'admin.internal ',
    'admin.internal\t',
    'admin.internal\u0000',
    'admin\r\n.internal',
    'admin..internal',
    '.admin.internal',
    'admin.internal..',
    '-admin.internal',
    'admin-.internal',
    'a'.repeat(64) + '.internal',
    'admin.internal:',
    'admin.internal:0',
    'admin.internal:65536',
    'admin.internal:99999',
    'admin.internal:80:80',
    'admin.internal:8x',
    'admin.internal:-1',
    'ädmin.internal',
    'xn--dmin-moa.internal:443x',
    '127.1',
    '0x7f.0.0.1',
    '0x7f000001',
    '2130706433',
    '010.0.0.1',
    '127.0.0.256',
    '1.2.3.4.5',
    '[::1',
    '::1',
    '[::1]x',
    '[::1]:',
    '[fe80::1%25eth0]',
    '[fe80::1%eth0]',
    '[v1.x]',
    '[admin.internal]',
    '[::1]@admin.internal',
  ];
  for (const raw of bad) t.equal(parseAuthority(raw), null, JSON.stringify(raw));
});

t.test('Router.resolve: authority, absolute-form and target decided together', async (t) => {
  const config = (escapedSlashes?: string) =>
    resolveConfig({
      tls: { cert: '/c', key: '/k', clientCA: '/ca' },
      ...(escapedSlashes ? { paths: { escapedSlashes } } : {}),
      routes: [
        { name: 'admin', host: 'admin.internal', pathPrefix: '/admin', upstream: 'http://127.0.0.1:1' },
        { name: 'open', upstream: 'http://127.0.0.1:2' },
      ],
    });
  const r = new Router(config());
  const d = new Router(config('decode'));
  const name = (router: Router, authority: string | undefined, target: string, sni = '') => {
    const m = router.resolve(authority, target, sni);
    return m.kind === 'route' ? `${m.route.name} ${m.authority} ${m.path}` : m.kind;
  };
  t.equal(name(r, 'Admin.Internal.:8443', '/admin;x/../admin;y'), 'admin admin.internal:8443 /admin;y');
  t.equal(name(r, 'admin.internal', '/admin%2Fusers'), 'bad_request');
  t.equal(name(d, 'admin.internal', '/admin%2Fusers'), 'admin admin.internal /admin%2Fusers', 'decode: routed on /admin/users');
  t.equal(name(r, 'admin.internal', '/admin#'), 'bad_request');
  t.equal(name(r, 'x@admin.internal', '/admin'), 'bad_request');
  t.equal(name(r, 'admin.internal', 'https://admin.internal:8443/admin?x'), 'admin admin.internal /admin?x', 'absolute-form naming the Host');
  t.equal(name(r, 'admin.internal', 'https://admin.internal?x'), 'open admin.internal /?x');
  t.equal(name(r, 'admin.internal', 'https://admin.internal'), 'open admin.internal /');
  t.equal(name(r, 'admin.internal', 'https://x@admin.internal/admin'), 'bad_request', 'userinfo in absolute-form');
  t.equal(name(r, 'admin.internal', 'https://admin.internal/admin#x'), 'bad_request', 'a fragment in absolute-form');
  t.equal(name(r, 'admin.internal', 'https://other.internal/admin'), 'bad_request', 'absolute-form naming another host');
  t.equal(name(r, 'admin.internal', 'ftp://admin.internal/admin'), 'bad_request');
  t.equal(name(r, undefined, '/'), 'bad_request', 'no Host');
});
