/**
 * IdentityCache: connections presenting the same certificate share one
 * parsed identity; a different leaf or chain never gets another's; the
 * least recently used certificate goes first; unreadable DER is refused
 * and not remembered. Certificates are real ones from our CA.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IdentityCache } from '../../src/tls/identity-cache.js';
import { identityFromDer } from '../../src/tls/identity.js';
import { makePki } from '../helpers/pki.js';

const derOf = (file: string): Buffer => new X509Certificate(readFileSync(file)).raw;

t.test('same certificate, same identity; another certificate, its own', async (t) => {
  const pki = await makePki(t.testdir(), { intermediate: true });
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => pki.client(n)));
  const a = derOf(alice!.cert);
  const b = derOf(bob!.cert);
  const c = derOf(carol!.cert);
  const cache = new IdentityCache(2);

  const a1 = cache.get(a, []);
  t.same(a1, identityFromDer(a), 'what identityFromDer reads');
  t.equal(cache.get(Buffer.from(a), []), a1, 'an equal DER in another buffer (a new connection) shares the object');
  const b1 = cache.get(b, []);
  t.not(b1, a1);
  t.equal(b1.subjectDN, 'CN=bob', 'bob is bob');
  t.equal(a1.subjectDN, 'CN=alice', 'alice is still alice');

  // Least recently used first: alice is used again, so carol's arrival evicts bob.
  t.equal(cache.get(a, []), a1, 'a hit');
  const c1 = cache.get(c, []);
  t.equal(c1.subjectDN, 'CN=carol');
  t.equal(cache.size, 2, 'never more than max');
  t.equal(cache.get(a, []), a1, 'the recently used entry stayed');
  const b2 = cache.get(b, []);
  t.not(b2, b1, 'the least recently used one was evicted and is parsed anew');
  t.same(b2, b1, 'to the same identity');

  // The chain is part of the key: the same leaf with a chain (RFC 9440 headers) is its own entry.
  const chained = new IdentityCache();
  const chain = [derOf(pki.caCert)];
  const plain = chained.get(a, []);
  const withChain = chained.get(a, chain);
  t.not(withChain, plain, 'same leaf, other chain: another entry');
  t.same(withChain.chainDer, chain);
  t.equal(chained.get(a, []), plain, 'and the chainless one is still its own');
  t.same(plain.chainDer, []);
});

t.test('unreadable DER throws and is not cached', async (t) => {
  const cache = new IdentityCache();
  const junk = Buffer.from('3003020101', 'hex'); // a SEQUENCE holding one INTEGER: no certificate
  t.throws(() => cache.get(junk, []));
  t.equal(cache.size, 0, 'nothing remembered');
  t.throws(() => cache.get(junk, []), 'and refused again');
});
