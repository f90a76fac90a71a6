// The `reason` label of a failed handshake comes from OpenSSL's verify error
// (X509_V_ERR_* as Node names it) or the handshake error code.
import t from 'tap';
import { handshakeAbortReason, handshakeErrorReason, verifyFailureReason } from '../../src/tls/handshake-reason.js';

t.test('verify errors', async (t) => {
  t.equal(verifyFailureReason(null, false), 'no_certificate');
  t.equal(verifyFailureReason('UNABLE_TO_GET_ISSUER_CERT', false), 'no_certificate', 'no certificate wins over the verify code Node reports for it');
  t.equal(verifyFailureReason('CERT_HAS_EXPIRED', true), 'expired');
  t.equal(verifyFailureReason('CERT_NOT_YET_VALID', true), 'bad_certificate');
  t.equal(verifyFailureReason('CERT_REVOKED', true), 'revoked');
  for (const c of ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']) {
    t.equal(verifyFailureReason(c, true), 'unknown_ca', c);
  }
  for (const c of ['INVALID_PURPOSE', 'CERT_SIGNATURE_FAILURE', 'INVALID_CA', 'EE_KEY_TOO_SMALL', 'CA_MD_TOO_WEAK', 'UNABLE_TO_GET_CRL']) {
    t.equal(verifyFailureReason(c, true), 'bad_certificate', c);
  }
});

t.test('handshake errors', async (t) => {
  t.equal(handshakeErrorReason('ERR_TLS_HANDSHAKE_TIMEOUT'), 'timeout');
  t.equal(handshakeErrorReason('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'), 'no_certificate');
  t.equal(handshakeErrorReason('ERR_SSL_UNSUPPORTED_PROTOCOL'), 'protocol');
  t.equal(handshakeErrorReason(undefined), 'protocol');
});

t.test('aborted handshakes: the client closed after the server flight', async (t) => {
  t.equal(handshakeAbortReason('ECONNRESET', true), 'after_certificate_request');
  t.equal(handshakeAbortReason('EPIPE', true), 'after_certificate_request');
  t.equal(handshakeAbortReason('ECONNRESET', false), null, 'closed before the server answered: a probe, not a browser');
  t.equal(handshakeAbortReason('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', true), null, 'an alert from the client is a refusal');
  t.equal(handshakeAbortReason('ERR_TLS_HANDSHAKE_TIMEOUT', true), null);
  t.equal(handshakeAbortReason(undefined, true), null);
});
