// Key-exchange groups: the default follows what this runtime's OpenSSL offers
// (found by asking it), tls.groups is checked at load with the key path and
// the group named, and the negotiated group is read from the session DER.
import { webcrypto, generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { DEFAULT_GROUPS, groupOffered, groupProblems, resolveConfig } from '../../src/config/index.js';
import { ecdhCurveOption, groupFromSessionDer } from '../../src/tls/groups.js';
import { ValidationError } from '../../src/util/index.js';

const tls = { cert: '/c', key: '/k', clientCA: '/ca' };
const routes = [{ name: 'api', upstream: 'http://127.0.0.1:8080' }];

t.test('the default is the preference order minus what OpenSSL lacks', async (t) => {
  t.same(DEFAULT_GROUPS, ['X25519MLKEM768', 'X25519', 'P-256', 'P-384']);
  const expected = DEFAULT_GROUPS.filter(groupOffered).join(':');
  t.equal(ecdhCurveOption(undefined), expected);
  t.ok(expected.startsWith(groupOffered('X25519MLKEM768') ? 'X25519MLKEM768:X25519:' : 'X25519:'), expected);
  t.equal(ecdhCurveOption(['P-384', 'X25519']), 'P-384:X25519', 'a configured list is passed as given');
  t.equal(groupOffered('X25519'), true);
  t.equal(groupOffered('no-such-group'), false);
});

t.test('a refused probe leaves no OpenSSL error behind (Node 20 would fail the next webcrypto import)', async (t) => {
  const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
  t.equal(groupOffered('still-no-such-group'), false);
  await t.resolves(webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']));
});

t.test('tls.groups is checked at load', async (t) => {
  const ok = resolveConfig({ tls: { ...tls, groups: ['X25519', 'P-256'] }, routes });
  t.same(ok.tls.groups, ['X25519', 'P-256']);
  t.equal(resolveConfig({ tls, routes }).tls.groups, undefined, 'unset means the default order');
  const err = (() => {
    try {
      resolveConfig({ tls: { ...tls, groups: ['X25519', 'X25519Kyber768Draft00', 'P-256'] }, routes });
    } catch (e) {
      if (e instanceof ValidationError) return e;
      throw e;
    }
    return null;
  })();
  t.equal(err?.code, 'ZTP_CONFIG_INVALID');
  t.equal(err?.problems.length, 1);
  t.equal(err?.problems[0]?.path, 'tls.groups[1]');
  t.match(err?.problems[0]?.message, /unknown group "X25519Kyber768Draft00"/);
  t.throws(() => resolveConfig({ tls: { ...tls, groups: [] }, routes }), { code: 'ZTP_CONFIG_INVALID' }, 'an empty list');
  t.throws(() => resolveConfig({ tls: { ...tls, groups: 'X25519' }, routes }), { code: 'ZTP_CONFIG_INVALID' }, 'a string, not a list');
  for (const bad of ['X25519:P-256', '*X25519', '?X25519MLKEM768', 'X25519/P-256', '']) {
    t.throws(() => resolveConfig({ tls: { ...tls, groups: [bad] }, routes }), { code: 'ZTP_CONFIG_INVALID' }, `OpenSSL list syntax in one entry: ${JSON.stringify(bad)}`);
  }
  t.same(groupProblems(['X25519', 'P-256', 'x25519']).map(([i]) => i), [2], 'a group twice, on any OpenSSL');
  if (!groupOffered('X25519MLKEM768')) {
    t.match(groupProblems(['X25519MLKEM768'])[0]?.[1], /not offered by OpenSSL 3\.0/, 'on a runtime without ML-KEM the error says which OpenSSL');
  }
});

t.test('the group is read from the session DER; malformed input gives none or other', async (t) => {
  // Captured from OpenSSL 3.5 (Node 24) sessions: the [19] kex_group field is last.
  const pq = Buffer.from('3054020101020203040402130204000400a10602046b0f67c6a20402021c20a422042003136e9ce02cc07c9d66f9adf33e9bf21a4b286e680f17eb5f854263c758be87a60b04096c6f63616c686f7374b304020211ec', 'hex');
  t.equal(groupFromSessionDer(pq), 'X25519MLKEM768');
  const x = Buffer.from('3053020101020203040402130204000400a10602046b0f67c6a20402021c20a422042098dd1158732902620b0778010521fa0ef48e5468fee35869a7b530e6b14a30e6a60b04096c6f63616c686f7374b30302011d', 'hex');
  t.equal(groupFromSessionDer(x), 'X25519');
  t.equal(groupFromSessionDer(Buffer.from('3005b303020199', 'hex')), 'other', 'an unnamed code point');
  t.equal(groupFromSessionDer(Buffer.from('3003020100', 'hex')), 'none', 'no kex_group field');
  t.equal(groupFromSessionDer(Buffer.from('3105b30302011d', 'hex')), 'none', 'not a SEQUENCE');
  t.equal(groupFromSessionDer(Buffer.from('3005b30304011d', 'hex')), 'none', 'not an INTEGER inside');
  t.equal(groupFromSessionDer(Buffer.from('3005b3090201', 'hex')), 'none', 'truncated');
  t.equal(groupFromSessionDer(Buffer.from('3008b306020401020304', 'hex')), 'other', 'too long to be a group');
  t.equal(groupFromSessionDer(Buffer.from('30820007b30302011d0000', 'hex')), 'X25519', 'long-form length');
  t.equal(groupFromSessionDer(Buffer.alloc(0)), 'none');
});
