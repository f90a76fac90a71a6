/**
 * The `ztproxy ca` CLI as users run it (node dist/main.js, built by
 * `npm test`'s pretest): exit codes, one-line errors, nothing written on bad
 * input, and parallel issue-client runs against one store.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

function ztp(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ztpAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (d) => (stderr += String(d)));
    c.on('close', (code) => res({ code: code ?? -1, stderr }));
  });
}

// About 20 CLI processes: slow on a loaded 2-core host, so more room than the default 120 s.
t.setTimeout(360_000);

t.test('CLI', { skip: existsSync(MAIN) ? false : 'dist/main.js missing: run npm run build' }, async (t) => {
  const dir = t.testdir();
  const ca = join(dir, 'ca');
  const pass = join(dir, 'pass');
  writeFileSync(pass, 'correct horse\n');
  const wrong = join(dir, 'wrong');
  writeFileSync(wrong, 'battery staple\n');

  let r = ztp(['ca', 'init', '--dir', ca, '--name', 'CLI Test CA', '--ttl', '30d', '--passphrase-file', pass, '--permit-dns', '.internal', '--permit-dns', 'localhost']);
  t.equal(r.code, 0, r.stderr);
  t.match(readFileSync(join(ca, 'ca.key'), 'utf8'), /ENCRYPTED/);

  t.test('refuses to overwrite a CA', async (t) => {
    const before = readFileSync(join(ca, 'ca.key'), 'utf8');
    const r = ztp(['ca', 'init', '--dir', ca]);
    t.equal(r.code, 3);
    t.match(r.stderr, /^error: .*\n$/);
    t.equal(readFileSync(join(ca, 'ca.key'), 'utf8'), before);
  });

  t.test('bad input: exit code, one-line error, nothing written', async (t) => {
    const out = join(dir, 'never');
    const index = readFileSync(join(ca, 'index.json'), 'utf8');
    const csr = join(dir, 'bad.csr');
    spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'bad.key'), '-out', csr, '-outform', 'DER', '-subj', '/CN=x']);
    const b = readFileSync(csr);
    b[b.length - 2]! ^= 1;
    writeFileSync(csr, b);
    const cases: [string, string[], number][] = [
      ['unknown key type', ['ca', 'init', '--dir', join(out, 'ca'), '--key-type', 'dsa'], 2],
      ['TTL past CA expiry', ['ca', 'issue-client', '--dir', ca, '--passphrase-file', pass, '--cn', 'x', '--ttl', '60d', '--out-dir', out], 3],
      ['CN with a control character', ['ca', 'issue-client', '--dir', ca, '--passphrase-file', pass, '--cn', 'a\u0007b', '--out-dir', out], 2],
      ['bad CSR signature', ['ca', 'sign-csr', '--dir', ca, '--passphrase-file', pass, '--csr', csr, '--profile', 'client', '--out', join(out, 'x.crt')], 3],
      ['wrong passphrase', ['ca', 'issue-client', '--dir', ca, '--passphrase-file', wrong, '--cn', 'x', '--out-dir', out], 3],
      ['unknown flag', ['ca', 'issue-client', '--dir', ca, '--passphrase-file', pass, '--cn', 'x', '--bogus', '--out-dir', out], 2],
      ['unknown serial', ['ca', 'revoke', '--dir', ca, '--passphrase-file', pass, '--serial', 'abcd'], 3],
    ];
    const results = await Promise.all(cases.map(([, args]) => ztpAsync(args)));
    cases.forEach(([name, , code], i) => {
      t.equal(results[i]!.code, code, `${name}: ${results[i]!.stderr}`);
      t.match(results[i]!.stderr, /^error: [^\n]+\n/, `${name}: one-line error`);
    });
    t.notOk(existsSync(out), 'nothing written');
    t.equal(readFileSync(join(ca, 'index.json'), 'utf8'), index, 'index unchanged');
  });

  t.test('8 concurrent issue-client runs: all recorded, serials distinct', async (t) => {
    const out = join(dir, 'par');
    const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => ztpAsync(['ca', 'issue-client', '--dir', ca, '--passphrase-file', pass, '--cn', `user${i}`, '--out-dir', out])));
    t.same(codes.map((c) => c.code), Array(8).fill(0), codes.map((c) => c.stderr).join(''));
    const idx = JSON.parse(readFileSync(join(ca, 'index.json'), 'utf8')) as { entries: { serial: string; cn: string }[] };
    const mine = idx.entries.filter((e) => e.cn.startsWith('user'));
    t.equal(mine.length, 8);
    t.equal(new Set(idx.entries.map((e) => e.serial)).size, idx.entries.length, 'no serial reused');
    t.equal(readdirSync(out).filter((f) => f.endsWith('.p12')).length, 8);
    t.notOk(existsSync(join(ca, '.lock')), 'lock released');
  });

  t.test('issue, list --json, revoke, crl, renew via the CLI', async (t) => {
    const out = join(dir, 'flow');
    let r = ztp(['ca', 'issue-server', '--passphrase-file', pass, '--dns', 'localhost', '--ip', '127.0.0.1', '--ttl', '7d', '--out-dir', out], { ZTPROXY_CA_DIR: ca });
    t.equal(r.code, 0, r.stderr);
    r = ztp(['ca', 'issue-client', '--dir', ca, '--passphrase-file', pass, '--cn', 'erin', '--ou', 'dev', '--ttl', '1h', '--out-dir', out]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /curl --cert \S+erin\.crt --key \S+erin\.key/);
    r = ztp(['ca', 'list', '--dir', ca, '--json']);
    t.equal(r.code, 0);
    const rows = JSON.parse(r.stdout) as { serial: string; subject: string; profile: string; notAfter: string; status: string }[];
    const erin = rows.find((x) => x.subject === 'CN=erin,OU=dev');
    t.ok(erin);
    t.match(erin, { profile: 'client', status: 'valid', serial: /^[0-9a-f]{32}$/, notAfter: /^\d{4}-\d\d-\d\dT/ });
    t.same(rows.map((x) => x.notAfter), rows.map((x) => x.notAfter).sort(), 'sorted by expiry');
    t.match(ztp(['ca', 'list', '--dir', ca]).stdout, /^SERIAL\s+SUBJECT\s+PROFILE\s+NOT AFTER\s+STATUS\n/);

    r = ztp(['ca', 'revoke', '--dir', ca, '--passphrase-file', pass, '--cn', 'erin', '--reason', 'superseded']);
    t.equal(r.code, 0, r.stderr);
    t.match(spawnSync('openssl', ['crl', '-in', join(ca, 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' }).stdout, new RegExp(erin!.serial, 'i'));
    t.equal(ztp(['ca', 'crl', '--dir', ca, '--passphrase-file', pass, '--next-update', '1d']).code, 0);

    const before = readFileSync(join(out, 'localhost.crt'), 'utf8');
    r = ztp(['ca', 'renew', '--dir', ca, '--passphrase-file', pass, '--cert', join(out, 'localhost.crt'), '--key', join(out, 'localhost.key')]);
    t.equal(r.code, 0, r.stderr);
    t.not(readFileSync(join(out, 'localhost.crt'), 'utf8'), before);

    const csrOut = join(dir, 'csr');
    spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ok.key'), '-out', join(dir, 'ok.csr'), '-subj', '/CN=svc.internal', '-addext', 'subjectAltName=DNS:svc.internal']);
    r = ztp(['ca', 'sign-csr', '--dir', ca, '--passphrase-file', pass, '--csr', join(dir, 'ok.csr'), '--profile', 'server', '--ttl', '1d']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^-----BEGIN CERTIFICATE-----/);
    t.notOk(existsSync(csrOut));
  });
});
