/**
 * Byte-level DER helpers for the one thing @peculiar/x509 cannot do: put a
 * subject Name into a certificate VERBATIM (its generator re-encodes names,
 * which would normalise the hostile subjects tests mint on purpose).
 * Parsing is asn1js's; only TLV framing is written here, no cryptography.
 */
import * as asn1js from 'asn1js';
import { ZtpError } from '../util/index.js';

/** DER TLV with tag byte `tag` around `content`. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let len: number[];
  if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

/** The top-level children of the DER SEQUENCE `der`, each as its exact original bytes. */
export function sequenceChildren(der: Uint8Array, what: string): Buffer[] {
  const parsed = asn1js.fromBER(der);
  const seq = parsed.result;
  if (parsed.offset === -1 || !(seq instanceof asn1js.Sequence)) {
    throw new ZtpError('ZTP_CA_INVALID_INPUT', `${what}: not a DER SEQUENCE`);
  }
  return seq.valueBlock.value.map((c) => Buffer.from(c.valueBeforeDecodeView));
}

/** The exact subject Name bytes of a certificate. */
export function certSubjectDer(certDer: Uint8Array): Buffer {
  const tbs = sequenceChildren(sequenceChildren(certDer, 'certificate')[0]!, 'tbsCertificate');
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, …
  const hasVersion = tbs[0]![0] === 0xa0;
  return tbs[hasVersion ? 5 : 4]!;
}

/** The exact subject Name bytes of a PKCS#10 request. */
export function csrSubjectDer(csrDer: Uint8Array): Buffer {
  const info = sequenceChildren(sequenceChildren(csrDer, 'certificate request')[0]!, 'certificationRequestInfo');
  // CertificationRequestInfo: version, subject, subjectPKInfo, [0] attributes
  return info[1]!;
}

/**
 * Rebuilds `certDer` with its subject replaced by `subjectDer` and re-signs
 * the new TBSCertificate with `sign` (node:crypto). Signature algorithm,
 * issuer, serial, validity and extensions are kept byte for byte.
 */
export function replaceSubject(certDer: Uint8Array, subjectDer: Uint8Array, sign: (tbs: Buffer) => Buffer): Buffer {
  const [tbsDer, sigAlg] = sequenceChildren(certDer, 'certificate');
  const tbs = sequenceChildren(tbsDer!, 'tbsCertificate');
  const idx = tbs[0]![0] === 0xa0 ? 5 : 4;
  tbs[idx] = Buffer.from(subjectDer);
  const newTbs = tlv(0x30, Buffer.concat(tbs));
  const signature = sign(newTbs);
  const bitString = tlv(0x03, Buffer.concat([Buffer.from([0]), signature]));
  return tlv(0x30, Buffer.concat([newTbs, sigAlg!, bitString]));
}
