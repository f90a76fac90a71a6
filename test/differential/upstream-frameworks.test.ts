// The differential test of the security model's promise "policy decides on
// what the upstream will route" (issue 13): a real ztproxy protecting /admin
// (allows ou=ops) and the host admin.internal (allows ou=ops), with an open
// catch-all route, in front of real upstream frameworks that each report the
// route THEY matched. Every hostile path of corpus/paths.json and every
// hostile Host of corpus/hosts.json is sent byte-exact over HTTP/1.1 and
// HTTP/2, by a client with OU=dev and by one with OU=ops. For every case
// either ztproxy refuses it (4xx, or an HTTP/2 reset, and the upstream saw
// nothing), or the route ztproxy applied (known from which upstream port got
// it) is the route every framework reports: a framework reporting a
// protected route that ztproxy did not apply is a mismatch, and there must be
// none. (A framework reporting `public` where ztproxy applied a protected
// route is ztproxy being stricter, e.g. `/admin;x` that a raw-segment router
// does not see as /admin: counted, allowed.) `ztproxy policy test` must give
// the live proxy's decision for every case.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { policyTest } from '../../src/proxy/policy-test.js';
import { resolveConfig } from '../../src/config/index.js';
import { makePki } from '../helpers/pki.js';
import { baseConfig, startProxy, type ClientCert } from '../helpers/proxy.js';
import { skipUnlessInstalled } from '../helpers/tools.js';
import { H1Lane, H2Lane, type Outcome } from './clients.js';
import { askTee, HAVE, startGo, startGunicorn, startTee, startWsgiref, type TeeAnswer, type ZtRoute } from './frameworks.js';

interface Case {
  kind: 'path' | 'host';
  group: string;
  target: string;
  host: string;
}

const corpus = (f: string) => JSON.parse(readFileSync(new URL(`./corpus/${f}`, import.meta.url), 'utf8')) as Record<string, unknown>;
const PATHS = corpus('paths.json').paths as Record<string, string[]>;
const HOSTS = corpus('hosts.json').hosts as Record<string, string[]>;
const CASES: Case[] = [
  ...Object.entries(PATHS).flatMap(([group, list]) => list.map((target) => ({ kind: 'path' as const, group, target, host: 'localhost' }))),
  ...Object.entries(HOSTS).flatMap(([group, list]) => list.map((host) => ({ kind: 'host' as const, group, target: '/', host }))),
];
const PROTECTED = new Set(['admin', 'vhost-admin']);
const LANES = 4;

type Proto = 'h1' | 'h2';
type Who = 'dev' | 'ops';

interface Result {
  mode: string;
  who: Who;
  proto: Proto;
  c: Case;
  id: string;
  outcome: Outcome;
  tee: TeeAnswer | null;
}

/** What became of one case: refused by ztproxy, or forwarded through one of its routes. */
function refusedOrForwarded(r: Result): { refused: string } | { zt: ZtRoute } | { unexpected: string } {
  const o = r.outcome;
  if (o.kind === 'unsendable') return { refused: 'client could not send' };
  if (o.kind === 'reset') return { refused: 'h2 reset' };
  if (o.kind !== 'http') return { unexpected: `${o.kind} ${o.detail}` };
  if (r.tee !== null) return { zt: r.tee.zt };
  if (o.status >= 400 && o.status < 500) return { refused: String(o.status) };
  return { unexpected: `status ${o.status} ${o.body.slice(0, 120)}` };
}

// Some 1600 requests through TLS and four upstream processes: allow a slow shared machine more than the 120 s default.
t.setTimeout(300_000);

let nextId = 0;

async function runAll(cases: readonly Case[], port: number, ca: Buffer, client: ClientCert, mode: string, who: Who, proto: Proto): Promise<Result[]> {
  const results: Result[] = [];
  const lanes = Array.from({ length: LANES }, () => (proto === 'h1' ? new H1Lane(port, ca, client) : new H2Lane(port, ca, client)));
  try {
    await Promise.all(
      lanes.map(async (lane, i) => {
        for (let k = i; k < cases.length; k += LANES) {
          const c = cases[k]!;
          const id = `${mode}-${who}-${proto}-${nextId++}`;
          const outcome = lane instanceof H1Lane ? await lane.send(c.target, c.host, `X-Diff-Case: ${id}\r\n`) : await lane.send(c.target, c.host, { 'x-diff-case': id });
          let tee: TeeAnswer | null = null;
          if (outcome.kind === 'http' && outcome.status === 200) {
            try {
              const parsed = JSON.parse(outcome.body) as TeeAnswer;
              if (parsed.tee === true) tee = parsed;
            } catch {
              /* not the tee's answer */
            }
          }
          results.push({ mode, who, proto, c, id, outcome, tee });
        }
      }),
    );
  } finally {
    for (const lane of lanes) lane.close();
  }
  return results;
}

/**
 * The `--url` an operator would give `ztproxy policy test` for a case, or
 * null when no URL spells the request: a target that is neither origin- nor
 * absolute-form, absolute-form naming an authority other than the Host, or a
 * Host containing `/`, `?` or `#` (which end a URL's authority).
 */
function asUrl(c: Case): string | null {
  if (/[/?#]/.test(c.host)) return null;
  if (c.target.startsWith('/')) return `https://${c.host}${c.target}`;
  const abs = /^https?:\/\/([^/?#]*)(.*)$/is.exec(c.target);
  if (abs === null) return null;
  return abs[1]!.toLowerCase().replace(/:443$/, '') === c.host ? `https://${abs[1]}${abs[2]}` : null;
}

const show = (c: Case) => (c.kind === 'path' ? `path ${JSON.stringify(c.target)}` : `Host ${JSON.stringify(c.host)}`);

t.test('ztproxy and real upstream frameworks route every hostile case alike', async (t) => {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  const dir = t.testdir();
  const external: Record<string, number> = {};
  const skips: Record<string, string | false> = {
    'go-servemux': skipUnlessInstalled(HAVE.go, 'go (Debian golang-go)'),
    gunicorn: skipUnlessInstalled(HAVE.gunicorn, 'gunicorn (Debian gunicorn)'),
    wsgiref: skipUnlessInstalled(HAVE.python3, 'python3'),
  };
  const [goPort, gunicornPort, wsgirefPort] = await Promise.all([
    skips['go-servemux'] ? null : startGo(t, dir),
    skips.gunicorn ? null : startGunicorn(t),
    skips.wsgiref ? null : startWsgiref(t),
  ]);
  if (goPort !== null) external['go-servemux'] = goPort;
  if (gunicornPort !== null) external.gunicorn = gunicornPort;
  if (wsgirefPort !== null) external.wsgiref = wsgirefPort;
  for (const [name, reason] of Object.entries(skips)) if (reason) t.comment(`${name}: not run (${reason})`);
  const tee = await startTee(t, external);
  t.comment(`frameworks up after ${seconds()} s`);
  // Every framework is up and routes the plain cases as the proxy does; asked again at the end (one that died
  // mid-run would otherwise read as "refused" and pass).
  const sane = async (when: string) => {
    for (const [target, host, want] of [['/admin/x', 'localhost', 'admin'], ['/', 'localhost', 'public'], ['/x', 'admin.internal', 'vhost-admin']] as const) {
      const a = await askTee(tee.urls.public, target, host);
      t.same(a.routes, Object.fromEntries(tee.frameworks.map((f) => [f, want])), `${when}: every framework routes ${target} on ${host} to ${want}`);
    }
  };
  await sane('before');

  const pki = await makePki(join(dir, 'pki'), { serverDns: ['localhost', 'admin.internal'] });
  const clients: Record<Who, ClientCert> = { dev: await pki.client('dev', { ou: ['dev'] }), ops: await pki.client('ops', { ou: ['ops'] }) };
  const routes = [
    { name: 'vhost-admin', host: 'admin.internal', upstream: tee.urls['vhost-admin'], allow: { ou: ['ops'] } },
    { name: 'admin', pathPrefix: '/admin', upstream: tee.urls.admin, allow: { ou: ['ops'] } },
    { name: 'public', upstream: tee.urls.public },
  ];
  // The decode mode differs from the default only where a target has an escaped slash: it runs those cases.
  const modes: Record<string, { extra: Record<string, unknown>; cases: Case[] }> = {
    'escapedSlashes=reject (default)': { extra: {}, cases: CASES },
    'escapedSlashes=decode': { extra: { paths: { escapedSlashes: 'decode' } }, cases: CASES.filter((c) => /%(2f|5c)/i.test(c.target)) },
  };
  const results: Result[] = [];
  const ca = readFileSync(pki.caCert);
  for (const [mode, { extra, cases }] of Object.entries(modes)) {
    const raw = { ...baseConfig(pki, tee.urls.public), routes, log: { level: 'warn', access: false }, limits: { drainTimeoutMs: 100 }, ...extra };
    const config = resolveConfig(raw);
    const p = await startProxy(t, raw);
    const modeResults: Result[] = [];
    for (const who of ['dev', 'ops'] as const) for (const proto of ['h1', 'h2'] as const) modeResults.push(...(await runAll(cases, p.port, ca, clients[who], mode, who, proto)));
    results.push(...modeResults);
    t.comment(`[${mode}] ${cases.length} cases, ${modeResults.length} requests, done after ${seconds()} s`);

    // `ztproxy policy test` decides as the live proxy did (over HTTP/1.1, where the request line is the corpus's bytes).
    const certs = { dev: readFileSync(clients.dev.cert), ops: readFileSync(clients.ops.cert) };
    let agreed = 0;
    const inexpressible: string[] = [];
    const differ: string[] = [];
    for (const r of modeResults) {
      if (r.proto !== 'h1') continue;
      const live = r.outcome.kind === 'http' ? (r.tee ? 200 : r.outcome.status) : r.outcome.kind;
      const url = asUrl(r.c);
      if (url === null) {
        // No https:// URL carries this request; the live proxy must refuse it.
        inexpressible.push(show(r.c));
        if (live !== 400) differ.push(`${r.who} ${show(r.c)}: live ${live}, expected 400 for a request no URL can spell`);
        continue;
      }
      let predicted: number | string;
      try {
        predicted = policyTest({ config, cert: certs[r.who], url, sni: 'localhost' }).status;
      } catch (err) {
        // `--url` is not a URL (exit 3, bad input): the live proxy must have refused it as malformed.
        predicted = (err as { code?: string }).code === 'ZTP_POLICY_TEST' ? 'bad --url' : `throws ${(err as Error).message}`;
        if (predicted === 'bad --url' && live === 400) predicted = 400;
      }
      if (predicted === live) agreed++;
      else differ.push(`${r.who} ${show(r.c)} (--url ${JSON.stringify(url)}): live ${live}, policy test ${predicted}`);
    }
    t.comment(`[${mode}] policy test gives the live decision for ${agreed} cases (HTTP/1.1, both clients); ${inexpressible.length / 2} corpus cases no --url can spell, all refused live`);
    t.same(differ, [], `[${mode}] policy test gives the live decision for every corpus case`);
  }

  await sane('after');

  // Refusals: the upstream saw nothing. Unexpected outcomes (5xx, timeouts, a dead connection without an answer): none.
  const unexpected: string[] = [];
  const leaked: string[] = [];
  const refusedBy = new Map<string, number>();
  for (const r of results) {
    const f = refusedOrForwarded(r);
    if ('unexpected' in f) unexpected.push(`${r.mode} ${r.who} ${r.proto} ${show(r.c)}: ${f.unexpected}`);
    else if ('refused' in f) {
      refusedBy.set(f.refused, (refusedBy.get(f.refused) ?? 0) + 1);
      if (tee.seen.has(r.id)) leaked.push(`${r.mode} ${r.who} ${r.proto} ${show(r.c)}: refused (${f.refused}) yet reached the upstream`);
    }
  }
  t.same(unexpected, [], 'every case is answered: a 4xx, an HTTP/2 reset, or the upstream');
  t.same(leaked, [], 'a refused case never reached the upstream');

  // Per framework: agreement with the route ztproxy applied.
  const forwarded = results.filter((r) => r.tee !== null);
  t.ok(forwarded.some((r) => r.who === 'dev') && forwarded.some((r) => r.who === 'ops' && r.tee!.zt !== 'public'), 'both clients got cases through, on open and protected routes');
  t.same(forwarded.filter((r) => r.who === 'dev' && r.tee!.zt !== 'public').map((r) => show(r.c)), [], 'dev is only ever forwarded on the open route');
  const report: Record<string, unknown> = {};
  for (const fw of tee.frameworks) {
    const tally = { cases: 0, same: 0, stricter: 0, frameworkRefused: 0, mismatches: 0 };
    // One line per case: what each side routed, and for which clients and protocols.
    const mismatches = new Map<string, Set<string>>();
    const stricter = new Set<string>();
    for (const r of forwarded) {
      const theirs = r.tee!.routes[fw];
      if (theirs === undefined) continue;
      tally.cases++;
      const ours = r.tee!.zt;
      if (theirs === ours) tally.same++;
      else if (theirs === 'refused' || theirs === 'redirect') tally.frameworkRefused++;
      else if (theirs === 'public' && PROTECTED.has(ours)) {
        tally.stricter++;
        stricter.add(`[${r.mode}] ${show(r.c)}: ztproxy ${ours}, forwarded ${JSON.stringify(r.tee!.target)} Host ${JSON.stringify(r.tee!.host)}`);
      }
      else {
        tally.mismatches++;
        const key = `[${r.mode}] ${show(r.c)}: ztproxy routed ${ours} and forwarded ${JSON.stringify(r.tee!.target)} with Host ${JSON.stringify(r.tee!.host)}; ${fw} routed ${theirs}`;
        (mismatches.get(key) ?? mismatches.set(key, new Set()).get(key)!).add(`${r.who}/${r.proto}`);
      }
    }
    const lines = [...mismatches].map(([k, v]) => `${k} (${[...v].sort().join(' ')})`);
    report[fw] = { ...tally, mismatches: lines, stricter: [...stricter] };
    t.comment(`${fw}: ${tally.cases} forwarded cases; same route ${tally.same}, ztproxy stricter ${tally.stricter}, framework refused/redirected ${tally.frameworkRefused}, MISMATCHES ${tally.mismatches}`);
    t.same(lines, [], `${fw}: no case where the framework routes to a protected route ztproxy did not apply`);
  }
  // Which hostile Hosts got through, and as what (the upstream must only ever see a canonical host).
  const hostsThrough = new Map<string, Set<string>>();
  for (const r of forwarded) {
    if (r.c.kind !== 'host') continue;
    const key = `${JSON.stringify(r.c.host)} → Host ${JSON.stringify(r.tee!.host)}, route ${r.tee!.zt}`;
    (hostsThrough.get(key) ?? hostsThrough.set(key, new Set()).get(key)!).add(`${r.who}/${r.proto}`);
  }
  report.forwardedHosts = [...hostsThrough].map(([k, v]) => `${k} (${[...v].sort().join(' ')})`);
  // ZTPROXY_DIFF_REPORT=file: every framework's tally, mismatch and stricter case, as JSON (for reading a failure at leisure).
  if (process.env.ZTPROXY_DIFF_REPORT) writeFileSync(process.env.ZTPROXY_DIFF_REPORT, JSON.stringify(report, null, 2));
  for (const [name, reason] of Object.entries(skips)) if (reason) t.test(name, { skip: reason }, async () => {});
  // Per corpus group: how its requests ended (all modes, clients and protocols).
  const groups = new Map<string, { requests: number; refused: number; forwarded: number }>();
  for (const r of results) {
    const key = `${r.c.kind} ${r.c.group}`;
    const g = groups.get(key) ?? groups.set(key, { requests: 0, refused: 0, forwarded: 0 }).get(key)!;
    g.requests++;
    if (r.tee !== null) g.forwarded++;
    else g.refused++;
  }
  for (const [key, g] of groups) t.comment(`  ${key}: ${g.requests} requests, ${g.refused} refused by ztproxy, ${g.forwarded} forwarded`);
  const cpu = process.cpuUsage(cpu0);
  t.comment(`wall ${seconds()} s; this process's CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (client, proxy, tee and Node routers)`);
  const total = results.length;
  t.comment(`corpus: ${Object.values(PATHS).flat().length} paths, ${Object.values(HOSTS).flat().length} hosts; ${total} requests (dev/ops × HTTP/1.1/HTTP/2 × ${Object.entries(modes).map(([m, { cases }]) => `${cases.length} cases ${m}`).join(' + ')}); forwarded ${forwarded.length}; refused: ${[...refusedBy].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
});
