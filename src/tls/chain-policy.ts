/**
 * Checks on a client chain that OpenSSL verified but that Node cannot ask
 * OpenSSL to make: Node exposes no `SSL_CTX_set_verify_depth`, and OpenSSL
 * accepts a trusted self-signed CA certificate presented as a client
 * certificate (it is its own trust anchor, and a CA certificate without EKU
 * passes the sslclient purpose check).
 */
import type { X509Certificate } from 'node:crypto';

/** Why a verified chain is still refused, or null when it is acceptable. */
export type ChainViolation = 'CA_CERT_AS_CLIENT' | 'CHAIN_TOO_DEEP' | 'CHAIN_UNRESOLVED';

/** Hard stop of the issuer walk, whatever the configured depth (the schema allows at most 16). */
const MAX_WALK = 32;

/**
 * Refuses a leaf that is a CA certificate (basicConstraints cA=TRUE), and a
 * chain with more than `verifyDepth` certificates below the trust anchor
 * (leaf directly under a trusted root = depth 1; one intermediate = 2).
 *
 * The chain is rebuilt from the leaf through the certificates the client sent
 * (`issuerCertificate` links) and the trusted CAs, matching issuers by name
 * and key identifier (X509_check_issued). Signatures are not checked again:
 * OpenSSL has verified this chain before the caller runs. A chain that cannot
 * be rebuilt up to a self-issued trusted certificate fails closed
 * (`CHAIN_UNRESOLVED`). Never throws.
 */
export function chainViolation(leaf: X509Certificate, trusted: readonly X509Certificate[], verifyDepth: number): ChainViolation | null {
  if (leaf.ca) return 'CA_CERT_AS_CLIENT';
  const sent: X509Certificate[] = [];
  for (let c = leaf.issuerCertificate; c !== undefined && sent.length < MAX_WALK && !sent.includes(c); c = c.issuerCertificate) sent.push(c);
  let cur = leaf;
  for (let depth = 1; depth <= MAX_WALK; depth++) {
    // Prefer a trusted issuer: that is where OpenSSL's chain building stops.
    const anchor = trusted.find((ca) => cur.checkIssued(ca));
    if (anchor !== undefined && anchor.checkIssued(anchor)) return depth > verifyDepth ? 'CHAIN_TOO_DEEP' : null;
    const next = anchor ?? sent.find((c) => c !== cur && cur.checkIssued(c));
    if (next === undefined || next.checkIssued(next)) return 'CHAIN_UNRESOLVED';
    cur = next;
  }
  return 'CHAIN_UNRESOLVED';
}
