import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseInventory, renderHosts, writeRendered } from '../../src/hosts/index.js';

const inv = parseInventory(
  `hosts:
  - { name: proxy1, role: proxy, address: 10.100.0.1 }
  - { name: db1, role: db, address: 10.100.0.2 }
  - { name: bastion1, role: bastion, address: 10.100.0.5 }
rules:
  - { from: any, to: proxy, port: 443, via: public }
  - { from: bastion, to: all, port: 22 }
  - { from: db, to: bastion, port: 514, proto: udp }
`,
  'render.yaml',
);

t.test('peers follow the rules in either direction, and a host never admits itself', async (t) => {
  const files = await renderHosts(inv, { keysDir: t.testdir({}) });
  const peers = (h: string) => [...files.get(`${h}/wg0.conf`)!.content.matchAll(/^# Peer: (\S+)/gm)].map((m) => m[1]);
  t.same(peers('bastion1'), ['proxy1', 'db1'], 'bastion reaches both');
  t.same(peers('proxy1'), ['bastion1'], 'the proxy never talks to db1: not a peer');
  t.same(peers('db1'), ['bastion1']);
  const bastionNft = files.get('bastion1/nftables.conf')!.content;
  t.notMatch(bastionNft, 'tcp dport 22', 'bastion → all does not open bastion1 to itself');
  t.match(bastionNft, 'iifname "wg0" ip saddr { 10.100.0.2 } udp dport 514 accept');
  t.match(files.get('proxy1/nftables.conf')!.content, 'iifname != "wg0" tcp dport 443 accept');
});

t.test('a proxy without proxy → app rules gets an empty route list; odd paths are quoted', async (t) => {
  const files = await renderHosts(inv, { keysDir: t.testdir({}), pathPrefix: '/tmp/a+dir' });
  const cfg = parse(files.get('proxy1/ztproxy.yaml')!.content);
  t.same(cfg.routes, []);
  t.equal(cfg.tls.cert, '/tmp/a+dir/etc/ztproxy/server.crt');
  t.match(files.get('proxy1/ztproxy.yaml')!.content, 'cert: "/tmp/a+dir/etc/ztproxy/server.crt"');
  t.match(files.get('db1/sshd_config.d/ztproxy.conf')!.content, 'TrustedUserCAKeys /tmp/a+dir/etc/ssh/user_ca.pub');
  await t.rejects(renderHosts(inv, { keysDir: t.testdir({}), pathPrefix: '/tmp/a dir' }), { code: 'ZTP_HOSTS_INVALID' });
});

t.test('writeRendered refuses paths outside the output directory and writes nothing', async (t) => {
  const dir = t.testdir({});
  const files = new Map([
    ['a/ok.conf', { content: 'x\n', mode: 0o644 }],
    ['../escape.conf', { content: 'x\n', mode: 0o644 }],
  ]);
  await t.rejects(writeRendered(join(dir, 'out'), files), { code: 'ZTP_INTERNAL' });
  t.notOk(existsSync(join(dir, 'out')));
});

t.test('a write failure is ZTP_HOSTS_WRITE', async (t) => {
  const dir = t.testdir({});
  writeFileSync(join(dir, 'out'), 'a file where the output directory should be');
  await t.rejects(writeRendered(join(dir, 'out'), new Map([['h/x.conf', { content: 'x', mode: 0o644 }]])), { code: 'ZTP_HOSTS_WRITE' });
});
