/**
 * PKCS#12 export for browsers and `curl --cert-type P12`, built from
 * node-forge's primitives. forge's own `toPkcs12Asn1` only takes RSA keys and
 * parses certificates with its RSA-only parser, so the bags are assembled
 * here around the DER we already have:
 *
 * - certificates in an unencrypted SafeContents (as browsers and OpenSSL
 *   expect; certificates are public);
 * - the key as a pkcs8ShroudedKeyBag: PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC;
 * - a SHA-1 HMAC over the AuthenticatedSafe (the MAC every importer supports).
 *
 * No RC2 or 3DES anywhere, so OpenSSL 3 reads the file without `-legacy`.
 */
import { createHash } from 'node:crypto';
import forge from 'node-forge';

/** Password of `.p12` files when none is given, documented in docs/certificates.md (mkcert's choice too). */
export const DEFAULT_P12_PASSWORD = 'changeit';

const { asn1, pki, pkcs12 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;
const PBKDF2_ITERATIONS = 2048;

const bin = (b: Uint8Array): string => Buffer.from(b).toString('binary');
const oid = (name: string): forge.asn1.Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(pki.oids[name]!).getBytes());

function dataContentInfo(content: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [oid('data'), asn1.create(CTX, 0, true, [asn1.create(U, T.OCTETSTRING, false, asn1.toDer(content).getBytes())])]);
}

function bagAttributes(localKeyId: string, friendlyName: string | undefined): forge.asn1.Asn1 {
  const attrs = [asn1.create(U, T.SEQUENCE, true, [oid('localKeyId'), asn1.create(U, T.SET, true, [asn1.create(U, T.OCTETSTRING, false, localKeyId)])])];
  if (friendlyName !== undefined) {
    attrs.push(asn1.create(U, T.SEQUENCE, true, [oid('friendlyName'), asn1.create(U, T.SET, true, [asn1.create(U, T.BMPSTRING, false, friendlyName)])]));
  }
  return asn1.create(U, T.SET, true, attrs);
}

/**
 * A PKCS#12 (DER) holding the private key `pkcs8Der` and `certDers` (leaf
 * first, then its chain), protected by `password` (may be empty).
 */
export function buildPkcs12(pkcs8Der: Uint8Array, certDers: Uint8Array[], password: string, friendlyName?: string): Buffer {
  const leaf = certDers[0];
  if (!leaf) throw new Error('buildPkcs12: no certificate');
  const localKeyId = createHash('sha1').update(leaf).digest('binary');

  const certBags = certDers.map((der, i) =>
    asn1.create(U, T.SEQUENCE, true, [
      oid('certBag'),
      asn1.create(CTX, 0, true, [asn1.create(U, T.SEQUENCE, true, [oid('x509Certificate'), asn1.create(CTX, 0, true, [asn1.create(U, T.OCTETSTRING, false, bin(der))])])]),
      ...(i === 0 ? [bagAttributes(localKeyId, friendlyName)] : []),
    ]),
  );

  const encryptedKey = pki.encryptPrivateKeyInfo(asn1.fromDer(bin(pkcs8Der)), password, { algorithm: 'aes256', count: PBKDF2_ITERATIONS, prfAlgorithm: 'sha256' } as never);
  const keyBag = asn1.create(U, T.SEQUENCE, true, [oid('pkcs8ShroudedKeyBag'), asn1.create(CTX, 0, true, [encryptedKey]), bagAttributes(localKeyId, friendlyName)]);

  const safe = asn1.create(U, T.SEQUENCE, true, [dataContentInfo(asn1.create(U, T.SEQUENCE, true, certBags)), dataContentInfo(asn1.create(U, T.SEQUENCE, true, [keyBag]))]);
  const safeDer = asn1.toDer(safe).getBytes();

  const macSalt = forge.random.getBytesSync(16);
  const macKey = pkcs12.generateKey(password, forge.util.createBuffer(macSalt) as never, 3, PBKDF2_ITERATIONS, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey.getBytes());
  hmac.update(safeDer);
  const macData = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.SEQUENCE, true, [asn1.create(U, T.SEQUENCE, true, [oid('sha1'), asn1.create(U, T.NULL, false, '')]), asn1.create(U, T.OCTETSTRING, false, hmac.digest().getBytes())]),
    asn1.create(U, T.OCTETSTRING, false, macSalt),
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(PBKDF2_ITERATIONS).getBytes()),
  ]);

  const pfx = asn1.create(U, T.SEQUENCE, true, [asn1.create(U, T.INTEGER, false, asn1.integerToDer(3).getBytes()), dataContentInfo(safe), macData]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}
