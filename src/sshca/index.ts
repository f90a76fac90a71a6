/**
 * The SSH certificate authority: OpenSSH user and host certificates
 * (PROTOCOL.certkeys), a Key Revocation List for sshd's RevokedKeys
 * (PROTOCOL.krl) and the CA key in openssh-key-v1 format, all written
 * natively with node:crypto. No ssh-keygen at run time.
 */
export { initSshCA, type InitSshCAOptions, type InitSshCAResult } from './init-ssh-ca.js';
export { signSshKey, certificatePathFor, DEFAULT_TTL, DEFAULT_BACKDATE_SECONDS, type SignSshKeyOptions, type SignSshKeyResult } from './sign-ssh-key.js';
export { revokeSshKey, type RevokeSshKeyOptions, type RevokeSshKeyResult } from './revoke-ssh-key.js';
export { listSshCertificates, type ListSshCertificatesOptions, type SshCertificateEntry } from './list-ssh-certificates.js';
export { CA_KEY_TYPES, type CaKeyType } from './ca-key.js';
export { SUBJECT_KEY_TYPES, parsePublicKey, fingerprintSha256, type SshPublicKey } from './public-key.js';
export { STORE_FILES, type SshCertRecord } from './store.js';
