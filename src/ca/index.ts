/**
 * The X.509 certificate authority: a directory store (see store.ts) that
 * issues client and server certificates, signs CSRs, revokes, publishes a
 * CRL and renews. Other folders import from here only.
 */
export { initCA, initIntermediateCA, DEFAULT_CA_NAME, type InitCAOptions, type InitIntermediateOptions, type InitResult } from './init.js';
export { issueClient, issueServer, signCsr, DEFAULT_CLIENT_TTL_SECONDS, DEFAULT_SERVER_TTL_SECONDS, type IssueClientOptions, type IssueClientResult, type IssueServerOptions, type IssueResult, type SignCsrOptions, type SignCsrResult } from './issue.js';
export { revoke, writeCrl, REVOCATION_REASONS, DEFAULT_CRL_NEXT_UPDATE_SECONDS, type RevokeOptions, type RevocationReason, type WriteCrlOptions } from './crl.js';
export { listCertificates, formatTable, type ListedCertificate, type ListOptions, type CertStatus } from './list.js';
export { renewCertificate, runRenewDaemon, nextRenewalDelayMs, type RenewOptions, type RenewResult, type RenewDaemonOptions } from './renew.js';
export { KEY_TYPES, DEFAULT_KEY_TYPE, type KeyType } from './keys.js';
export { DEFAULT_P12_PASSWORD } from './pkcs12.js';
export { CA_CERT_FILE, CA_CHAIN_FILE, CA_KEY_FILE, CRL_FILE, INDEX_FILE, resolveDir, type IndexEntry, type Profile } from './store.js';
