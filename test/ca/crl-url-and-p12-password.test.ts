/**
 * `--crl-url` puts a CRL distribution point in issued certificates (per
 * command, or as the store default saved by `ca init`), read back with the
 * openssl CLI; `ca issue-client` never prints a .p12 password the operator
 * chose, and says so when it prints the default one. Runs dist/main.js
 * (npm run build) like users do.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initCA, issueClient, issueServer, renewCertificate, signCsr } from '../../src/ca/index.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

function ztp(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The URIs of the CRL distribution points of the first certificate in `pem`, as openssl prints them. */
function cdpUris(pem: string): string[] {
  const r = spawnSync('openssl', ['x509', '-noout', '-ext', 'crlDistributionPoints'], { input: pem, encoding: 'utf8' });
  return [...r.stdout.matchAll(/URI:(\S+)/g)].map((m) => m[1]!);
}

t.test('--crl-url: per certificate, and the store default from ca init', { skip: skipUnlessInstalled(haveOpenssl, 'openssl') }, async (t) => {
  const dir = t.testdir();
  const plain = join(dir, 'plain');
  await initCA({ dir: plain });
  const none = await issueClient({ dir: plain, cn: 'none', outDir: join(dir, 'out') });
  t.same(cdpUris(none.certPem), [], 'no URL anywhere: no extension');
  const given = await issueServer({ dir: plain, dns: ['svc.internal'], outDir: join(dir, 'out'), crlUrl: 'http://pki.internal/plain.crl' });
  t.same(cdpUris(given.certPem), ['http://pki.internal/plain.crl'], 'issue-server --crl-url');

  const withDefault = join(dir, 'default');
  await initCA({ dir: withDefault, crlUrl: 'http://pki.internal/ca.crl' });
  t.equal(JSON.parse(readFileSync(join(withDefault, 'index.json'), 'utf8')).crlUrl, 'http://pki.internal/ca.crl', 'saved in the store');
  const alice = await issueClient({ dir: withDefault, cn: 'alice', outDir: join(dir, 'out') });
  t.same(cdpUris(alice.certPem), ['http://pki.internal/ca.crl'], 'issue-client takes the store default');
  const over = await issueClient({ dir: withDefault, cn: 'bob', outDir: join(dir, 'out'), crlUrl: 'https://other.internal/x.crl' });
  t.same(cdpUris(over.certPem), ['https://other.internal/x.crl'], 'an explicit URL wins');
  const csr = join(dir, 'req.csr');
  spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'req.key'), '-subj', '/CN=csr', '-out', csr]);
  const signed = await signCsr({ dir: withDefault, csr: readFileSync(csr, 'utf8'), profile: 'client' });
  t.same(cdpUris(signed.certPem), ['http://pki.internal/ca.crl'], 'sign-csr takes the store default');
  const renewed = await renewCertificate({ dir: withDefault, certPath: over.certPath, keyPath: over.keyPath });
  t.same(cdpUris(renewed.certPem), ['https://other.internal/x.crl'], 'a renewal keeps the certificate\'s URL');

  await t.rejects(issueClient({ dir: plain, cn: 'x', outDir: join(dir, 'out'), crlUrl: 'file:///etc/passwd' }), { code: 'ZTP_CA_INVALID_INPUT' }, 'only http, https, ldap');
  await t.rejects(initCA({ dir: join(dir, 'bad'), crlUrl: 'not a url' }), { code: 'ZTP_CA_INVALID_INPUT' });
  t.notOk(existsSync(join(dir, 'bad', 'ca.key')), 'nothing written on a bad URL');
});

t.test('CLI: --crl-url flags; a .p12 password from a file is never printed', { skip: existsSync(MAIN) ? false : 'dist/main.js missing: run npm run build' }, async (t) => {
  const dir = t.testdir();
  const ca = join(dir, 'ca');
  let r = ztp(['ca', 'init', '--dir', ca, '--crl-url', 'http://pki.internal/cli.crl']);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(readFileSync(join(ca, 'index.json'), 'utf8')).crlUrl, 'http://pki.internal/cli.crl');

  const secretFile = join(dir, 'p12pass');
  writeFileSync(secretFile, 'Tr0ub4dor&3-unique\n');
  r = ztp(['ca', 'issue-client', '--dir', ca, '--cn', 'alice', '--out-dir', join(dir, 'out'), '--p12-passphrase-file', secretFile, '--crl-url', 'http://pki.internal/alice.crl']);
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout + r.stderr, 'Tr0ub4dor', 'the chosen password is not printed');
  t.match(r.stdout, '(password from --p12-passphrase-file)');
  if (haveOpenssl) t.same(cdpUris(readFileSync(join(dir, 'out', 'alice.crt'), 'utf8')), ['http://pki.internal/alice.crl']);

  r = ztp(['ca', 'issue-client', '--dir', ca, '--cn', 'bob', '--out-dir', join(dir, 'out')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'password "changeit", the default: choose one with --p12-passphrase-file', 'the default is printed, named as the default');
  if (haveOpenssl) t.same(cdpUris(readFileSync(join(dir, 'out', 'bob.crt'), 'utf8')), ['http://pki.internal/cli.crl'], 'store default from the CLI');

  r = ztp(['ca', 'issue-server', '--dir', ca, '--dns', 'svc.internal', '--out-dir', join(dir, 'out'), '--crl-url', 'ftp://x/y.crl']);
  t.not(r.code, 0, 'a bad URL is refused');
  t.match(r.stderr, /--crl-url: expected an http:\/\/, https:\/\/ or ldap:\/\/ URL/);
});
