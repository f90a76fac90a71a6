/**
 * Every rendered file passes its real tool: `nft -c -f`, `sshd -t` (with the
 * snippet included and its CA key, KRL and principals present under a path
 * prefix), `wg-quick strip`, and the ztproxy.yaml keys are DESIGN.md's.
 * Each oracle skips with a reason when its tool is missing.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadInventory, renderHosts, writeRendered } from '../../src/hosts/index.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const goldenDir = fileURLToPath(new URL('../golden/hosts/', import.meta.url));
const cases = ['example', 'locked-down'];

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).error === undefined;
}
const tools = {
  nft: has('nft', ['--version']),
  sshd: has('sshd', ['-V']) && has('ssh-keygen', ['-?']),
  wgQuick: has('wg-quick', ['-h']),
};

async function renderCase(dir: string, name: string) {
  const inv = await loadInventory(join(goldenDir, `${name}.in.yaml`));
  const root = join(dir, 'root');
  const files = await renderHosts(inv, { keysDir: join(dir, 'keys'), pathPrefix: root });
  await writeRendered(join(dir, 'out'), files);
  return { inv, root, files, out: join(dir, 'out') };
}

for (const name of cases) {
  t.test(name, async (t) => {
    const { inv, root, files, out } = await renderCase(t.testdir({}), name);
    const hosts = inv.hosts.map((h) => h.name);

    t.test('nft -c -f accepts every nftables.conf', { skip: skipUnlessInstalled(tools.nft, 'nft', 'nftables') }, async (t) => {
      for (const h of hosts) {
        const r = spawnSync('nft', ['-c', '-f', join(out, h, 'nftables.conf')], { encoding: 'utf8', timeout: 20000 });
        t.equal(r.status, 0, `${h}: ${r.stderr}`);
      }
    });

    t.test('sshd -t accepts every snippet', { skip: skipUnlessInstalled(tools.sshd, 'sshd / ssh-keygen', 'openssh-server, openssh-client') }, async (t) => {
      // sshd -t insists on its privilege separation directory (the openssh-server package creates it at boot).
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      const sshDir = join(root, 'etc/ssh');
      mkdirSync(sshDir, { recursive: true });
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test host key', '-f', join(sshDir, 'host_key')]);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test user CA', '-f', join(sshDir, 'user_ca')]);
      execFileSync('ssh-keygen', ['-q', '-k', '-f', join(sshDir, 'revoked_keys')]);
      for (const h of hosts) {
        // The principals files go where AuthorizedPrincipalsFile points.
        for (const [rel, f] of files) {
          if (rel.startsWith(`${h}/auth_principals/`)) {
            mkdirSync(join(sshDir, 'auth_principals'), { recursive: true });
            writeFileSync(join(sshDir, 'auth_principals', rel.split('/').pop()!), f.content);
          }
        }
        const config = join(out, h, 'sshd_config');
        writeFileSync(config, `Include ${join(out, h, 'sshd_config.d/ztproxy.conf')}\nHostKey ${join(sshDir, 'host_key')}\nUsePAM yes\n`);
        const check = spawnSync('sshd', ['-t', '-f', config], { encoding: 'utf8', timeout: 20000 });
        t.equal(check.status, 0, `${h}: ${check.stderr}`);
        const effective = spawnSync('sshd', ['-T', '-f', config], { encoding: 'utf8', timeout: 20000 }).stdout;
        const view = inv.hosts.find((x) => x.name === h)!;
        t.match(effective, '\npasswordauthentication no\n', `${h}: no passwords`);
        t.match(effective, `\nauthenticationmethods ${inv.ssh.authenticationMethods}\n`);
        t.match(effective, `\ntrustedusercakeys ${join(sshDir, 'user_ca.pub')}\n`);
        t.match(effective, `\nrevokedkeys ${join(sshDir, 'revoked_keys')}\n`);
        t.match(effective, `\nauthorizedprincipalsfile ${join(sshDir, 'auth_principals')}/%u\n`);
        const publicSsh = inv.rules.some((r) => r.via === 'public' && r.port === inv.ssh.port && (r.to === 'all' || r.to === view.role));
        if (publicSsh) t.notMatch(effective, `listenaddress ${view.address.split('/')[0]}:`, `${h}: public SSH listens everywhere`);
        else t.match(effective, `\nlistenaddress ${view.address.split('/')[0]}:${inv.ssh.port}\n`, `${h}: SSH on the wg address only`);
      }
    });

    t.test('wg-quick strip parses every wg0.conf', { skip: skipUnlessInstalled(tools.wgQuick, 'wg-quick', 'wireguard-tools') }, async (t) => {
      for (const h of hosts) {
        const r = spawnSync('wg-quick', ['strip', join(out, h, 'wg0.conf')], { encoding: 'utf8', timeout: 20000 });
        t.equal(r.status, 0, `${h}: ${r.stderr}`);
        t.match(r.stdout, /\[Interface\]\n(#.*\n)*ListenPort = \d+\nPrivateKey = /);
        t.notMatch(r.stdout, /^(Address|MTU) =/m, 'wg-quick-only keys are stripped');
      }
    });

    t.test('ztproxy.yaml uses only keys from DESIGN.md', async (t) => {
      const allowed: Record<string, string[]> = {
        '': ['listen', 'workers', 'tls', 'routes', 'identityHeaders', 'metrics', 'log', 'limits'],
        tls: ['cert', 'key', 'clientCA', 'crl', 'minVersion', 'verifyDepth', 'sessionResumption'],
        route: ['name', 'host', 'pathPrefix', 'upstream', 'allow', 'deny'],
        upstream: ['url', 'urls', 'ca', 'cert', 'key', 'servername', 'insecurePlaintext'],
      };
      for (const [rel, f] of files) {
        if (!rel.endsWith('/ztproxy.yaml')) continue;
        const cfg = parse(f.content) as Record<string, any>;
        t.same(Object.keys(cfg).filter((k) => !allowed['']!.includes(k)), [], `${rel}: top-level keys`);
        t.same(Object.keys(cfg['tls']).filter((k) => !allowed['tls']!.includes(k)), []);
        t.match(cfg['tls']['cert'], join(root, inv.ztproxy.dir));
        t.ok(cfg['routes'].length > 0, 'routes to the app hosts');
        for (const route of cfg['routes']) {
          t.same(Object.keys(route).filter((k) => !allowed['route']!.includes(k)), []);
          t.same(Object.keys(route.upstream).filter((k) => !allowed['upstream']!.includes(k)), []);
          t.equal(route.upstream.insecurePlaintext, true);
          for (const url of route.upstream.urls) t.match(url, /^http:\/\/10\.100\.0\.\d+:\d+$/);
        }
      }
    });
  });
}
