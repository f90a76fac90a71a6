/**
 * The systemd units: their contract with the daemon (exit codes, reload,
 * capability, socket), `systemd-analyze security` exposure at most 2.0, and
 * `systemd-analyze verify` without complaints.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  parseExposure,
  repoRoot,
  run,
  stageUnits,
  systemdDir,
  systemdVersion,
  unitSection,
  unitValue,
  which,
} from './unit-tools.js';
import { skipUnlessInstalled } from '../helpers/tools.js';

const service = join(systemdDir, 'ztproxy.service');
const socket = join(systemdDir, 'ztproxy.socket');
const dropIn = join(systemdDir, 'ztproxy-socket.conf');
const MAX_EXPOSURE = 2.0;

t.test('the service unit states the daemon contract', async (t) => {
  const v = (key: string) => unitValue(service, 'Service', key);
  t.equal(v('ExecStart'), '/usr/bin/ztproxy serve --config /etc/ztproxy/ztproxy.yaml');
  t.equal(v('ExecReload'), '/bin/kill -HUP $MAINPID');
  t.equal(v('Restart'), 'on-failure');
  t.equal(v('RestartPreventExitStatus'), '2 3', 'usage and config errors do not loop');
  t.equal(v('User'), 'ztproxy');
  t.equal(v('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  t.equal(v('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  t.equal(v('NoNewPrivileges'), 'yes');
  t.equal(v('ProtectSystem'), 'strict');
  t.equal(v('PrivateUsers'), 'no', 'PrivateUsers=yes would break the bind of 443');
  t.equal(v('MemoryDenyWriteExecute'), 'no', 'V8 JIT needs W^X flips (mdwx.test.ts)');
  t.notOk(unitSection(service, 'Service').some(([k]) => k === 'IPAddressDeny'), 'it must serve');
  t.ok(Number(v('LimitNOFILE')) >= 65536, 'a proxy holds many connections');

  // The stop timeout must outlast the drain, or systemd kills requests in flight.
  const example = parse(readFileSync(join(repoRoot, 'config', 'ztproxy.example.yaml'), 'utf8')) as {
    limits: { drainTimeoutMs: number };
  };
  const stopSec = Number(/^(\d+)s$/.exec(v('TimeoutStopSec') ?? '')?.[1]);
  t.ok(stopSec * 1000 > example.limits.drainTimeoutMs, 'TimeoutStopSec > limits.drainTimeoutMs');
});

t.test('the socket unit hands one named listening socket to ztproxy.service', async (t) => {
  const v = (key: string) => unitValue(socket, 'Socket', key);
  t.equal(v('ListenStream'), '443');
  t.equal(v('Accept'), 'no');
  t.equal(v('FileDescriptorName'), 'https');
  t.equal(v('Service'), 'ztproxy.service');
  t.equal(unitValue(dropIn, 'Service', 'CapabilityBoundingSet'), '', 'socket mode keeps no capability');
  t.equal(unitValue(dropIn, 'Unit', 'Requires'), 'ztproxy.socket');
});

const analyze = which('systemd-analyze');
const version = analyze ? systemdVersion(analyze) : undefined;
// Found but not running (`--version` fails) counts as not installed.
const noAnalyze = skipUnlessInstalled(version !== undefined, 'systemd-analyze', analyze ? `${analyze} --version does not run` : 'apt-get install systemd');
const noOffline = noAnalyze || (version !== undefined && version < 250 ? `systemd ${version} has no security --offline (needs 250)` : false);

t.test(`security exposure is at most ${MAX_EXPOSURE}`, { skip: noOffline }, async (t) => {
  // Staged copies with SYSTEMD_UNIT_PATH pointing only at them, so drop-ins an
  // installed ztproxy may have under /etc/systemd/system cannot change the score.
  const plain = stageUnits(join(t.testdir(), 'plain'));
  const r = run(analyze!, ['security', '--offline=true', '--no-pager', plain.service], {
    env: { ...process.env, SYSTEMD_UNIT_PATH: plain.unitDir, SYSTEMD_COLORS: '0' },
  });
  const exposure = parseExposure(r.stdout, 'ztproxy.service');
  t.comment(`systemd ${version}: ${r.stdout.split('\n').find((l) => l.includes('Overall')) ?? r.stderr}`);
  t.not(exposure, undefined, 'found the "Overall exposure level" line');
  t.ok(exposure! <= MAX_EXPOSURE, `exposure ${exposure} <= ${MAX_EXPOSURE}`);

  const sock = stageUnits(join(t.testdir(), 'socket'), { socketDropIn: true });
  const rs = run(analyze!, ['security', '--offline=true', '--no-pager', sock.service], {
    env: { ...process.env, SYSTEMD_UNIT_PATH: sock.unitDir, SYSTEMD_COLORS: '0' },
  });
  const socketExposure = parseExposure(rs.stdout, 'ztproxy.service');
  t.comment(`with ztproxy-socket.conf: ${socketExposure}`);
  t.ok(socketExposure! < exposure!, 'the socket-activated variant is tighter still');
});

t.test('verify reports nothing for the units', { skip: noAnalyze }, async (t) => {
  for (const socketDropIn of [false, true]) {
    const staged = stageUnits(join(t.testdir(), socketDropIn ? 'socket' : 'plain'), { socketDropIn });
    // The trailing ':' keeps the standard unit path for multi-user.target & co.
    const r = run(analyze!, ['verify', '--man=no', staged.service, staged.socket], {
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${staged.unitDir}:`, SYSTEMD_COLORS: '0' },
      cwd: staged.unitDir,
    });
    const ours = r.stderr.split('\n').filter((l) => /ztproxy/.test(l));
    t.equal(r.status, 0, `verify exits 0${socketDropIn ? ' (with the socket drop-in)' : ''}`);
    t.same(ours, [], 'no message about the ztproxy units');
  }
});
