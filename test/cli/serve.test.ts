// `ztproxy serve` as an operator runs it: exit codes (2 usage, 3 invalid
// config or TLS material), --check like `nginx -t`, and SIGTERM draining an
// in-flight response before exit 0.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { nodeLineStatus } from '../../src/util/node-support.js';
import { makePki } from '../helpers/pki.js';
import { request } from '../helpers/proxy.js';

const MAIN = join(import.meta.dirname, '../../dist/main.js');
const env = { ...process.env, NODE_OPTIONS: '' };
const run = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });

t.test('exit codes and messages', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const good = join(dir, 'good.yaml');
  writeFileSync(good, `listen: 127.0.0.1:0\ntls:\n  cert: ${pki.server.cert}\n  key: ${pki.server.key}\n  clientCA: ${pki.caCert}\nroutes:\n  - name: api\n    upstream: http://127.0.0.1:9\n`);
  const check = run(['serve', '--check', '--config', good]);
  t.equal(check.status, 0, check.stderr);
  t.match(check.stdout, /config ok/);
  t.match(check.stdout, /route api: \*\/ -> http:\/\/127\.0\.0\.1:9/);
  t.match(check.stdout, /^key exchange groups: (X25519MLKEM768, )?X25519, P-256, P-384 \(Node v\d/m, 'the groups this runtime offers, in order');

  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, readFileSync(good, 'utf8') + 'identityHeaders:\n  subjectDn: X-DN\n');
  const bad = run(['serve', '--check', '--config', typo]);
  t.equal(bad.status, 3, 'unknown key: exit 3');
  t.match(bad.stderr, /identityHeaders\.subjectDn: unknown key/, 'names the key path');

  const wrongType = join(dir, 'wrong.yaml');
  writeFileSync(wrongType, readFileSync(good, 'utf8').replace('listen: 127.0.0.1:0', 'listen: 127.0.0.1:0\nworkers: many'));
  const wt = run(['serve', '--check', '--config', wrongType]);
  t.equal(wt.status, 3);
  t.match(wt.stderr, /workers: expected "auto" or integer/);

  const missingKey = run(['serve', '--check', '--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', join(dir, 'nope.key'), '--client-ca', pki.caCert, '--upstream', 'http://127.0.0.1:9']);
  t.equal(missingKey.status, 3, 'unreadable TLS material: exit 3');
  t.match(missingKey.stderr, /tls\.key: cannot read/);

  const mismatch = run(['serve', '--check', '--cert', pki.server.cert, '--key', (await pki.client('x')).key, '--client-ca', pki.caCert, '--upstream', 'http://127.0.0.1:9']);
  t.equal(mismatch.status, 3, 'key of another certificate: exit 3');
  t.match(mismatch.stderr, /does not belong to the certificate/);

  const plaintext = run(['serve', '--check', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', 'http://10.1.2.3:8080']);
  t.equal(plaintext.status, 3, 'plaintext to a non-loopback upstream: exit 3');
  t.match(plaintext.stderr, /insecurePlaintext/);

  t.equal(run(['serve', '--listen']).status, 2, 'flag without value: exit 2');
  t.equal(run(['serve', '--bogus-flag']).status, 2, 'unknown flag: exit 2');
  t.equal(run(['serve']).status, 2, 'nothing to serve: exit 2');
  const version = run(['--version']).stdout.split('\n');
  t.equal(version[0], JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version, 'the package version alone on the first line');
  t.match(version[1], new RegExp(`^node ${process.version.replace(/\./g, '\\.')}( \\(end of life \\d{4}-\\d\\d-\\d\\d(, passed)?\\))?$`), 'then the runtime');
  t.equal(version[2], `openssl ${process.versions.openssl}`, 'and its OpenSSL');
});

t.test('SIGTERM: the in-flight response completes, new connections are refused, exit 0', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const alice = await pki.client('alice');
  let release: (() => void) | null = null;
  let arrived: () => void = () => {};
  const slowArrived = new Promise<void>((r) => (arrived = r));
  const up = http.createServer((req, res) => {
    if (req.url === '/slow') {
      release = () => res.end('slow done');
      arrived();
    } else res.end('ok');
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    up.closeAllConnections();
    up.close();
  });
  const upPort = (up.address() as { port: number }).port;
  const child = spawn(process.execPath, [MAIN, 'serve', '--listen', '127.0.0.1:0', '--cert', pki.server.cert, '--key', pki.server.key, '--client-ca', pki.caCert, '--upstream', `http://127.0.0.1:${upPort}`, '--metrics-listen', 'off'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
  });
  const eolWarning = out.split('\n').some((l) => l.includes('"msg":"node.js line past its end of life'));
  t.equal(eolWarning, nodeLineStatus().pastEndOfLife, `end-of-life warning at start on ${process.version} iff its line is past its end of life`);
  const inFlight = request(port, pki.caCert, alice, { path: '/slow' });
  await slowArrived;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    refused = await request(port, pki.caCert, alice).then(() => false, () => true);
    if (!refused) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(refused, 'new connections are refused while draining');
  release!();
  const res = await inFlight;
  t.equal(res.status, 200);
  t.equal(res.body.toString(), 'slow done', 'in-flight response completed');
  t.equal(await exited, 0, 'exit 0');
});
