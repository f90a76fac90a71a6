// Fuzz of the config loader (parseYaml + resolveConfig) for a bounded time:
// random text, byte- and line-level mutations of a valid config, and random
// values spliced into the parsed object. Nothing may crash: every input is
// either accepted (and deep-frozen) or rejected with a ZtpError whose code is
// a config code and whose message names what is wrong.
import t from 'tap';
import { parseYaml, resolveConfig } from '../../src/config/index.js';
import { isZtpError } from '../../src/util/errors.js';
import { FUZZ_SEED, forBudget, type Rng } from './fuzz-rng.js';

const VALID = `listen: 127.0.0.1:8443
workers: 2
tls:
  cert: /etc/ztproxy/server.crt
  key: /etc/ztproxy/server.key
  clientCA: /etc/ztproxy/ca.crt
  crl: /etc/ztproxy/crl.pem
  minVersion: TLSv1.2
  verifyDepth: 3
  sessionResumption: false
routes:
  - name: api
    host: api.internal
    pathPrefix: /
    upstream: http://127.0.0.1:8080
    allow: { ou: [dev, ops], uri: ["spiffe://example.org/ns/*/sa/api"] }
    deny: { cn: [mallory] }
  - name: billing
    pathPrefix: /billing
    upstream:
      urls: [https://10.100.0.3:8443, https://10.100.0.4:8443]
      ca: /etc/ztproxy/upstream-ca.crt
      cert: /etc/ztproxy/proxy-client.crt
      key: /etc/ztproxy/proxy-client.key
      servername: billing.internal
identityHeaders: { issuerDN: true, serial: X-Serial, xfcc: true, rfc9440: false }
metrics: { listen: 127.0.0.1:9464 }
log: { level: info, access: true }
limits: { handshakeTimeoutMs: 10000, maxHeaderBytes: 16384 }
`;

const CONFIG_CODES = new Set(['ZTP_CONFIG_PARSE', 'ZTP_CONFIG_INVALID', 'ZTP_CONFIG_UNKNOWN_KEY', 'ZTP_CONFIG_INSECURE_UPSTREAM']);
const TOKENS = ['\n', ' ', '  ', ':', '- ', '{', '}', '[', ']', ',', '"', "'", '&a', '*a', '!!binary', '!!str', '? ', '|', '>', '#', '%YAML 1.2\n', '---\n', '...\n', '<<: *a', '~', 'null', 'true', '0x1F', '1e400', '-0', '.nan', '\t', '\u0000', '\uFEFF', 'routes', 'tls', 'allow', 'listen', 'upstream', '__proto__', 'constructor'];
const WEIRD: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', ' ', 'x'.repeat(5000), '\u0000', '127.0.0.1:99999', 'http://10.0.0.1', 'ftp://x', [], [null], {}, { a: 1 }, [[[]]], '__proto__', Number.NaN];

/** One rejection or acceptance; returns a description of a contract violation, or null. */
function check(run: () => unknown): string | null {
  try {
    const cfg = run();
    if (cfg && typeof cfg === 'object' && 'routes' in cfg && !Object.isFrozen(cfg)) return 'accepted config is not frozen';
    return null;
  } catch (err) {
    if (!isZtpError(err)) return `threw a non-ZtpError: ${String((err as Error)?.stack ?? err).slice(0, 300)}`;
    if (!CONFIG_CODES.has(err.code)) return `unexpected code ${err.code}`;
    if (err.message.length === 0) return 'empty message';
    return null;
  }
}

function mutateText(rng: Rng, s: string): string {
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(6)) {
      case 0: // delete a span
        s = s.slice(0, at) + s.slice(at + rng.int(20));
        break;
      case 1: // insert a token
        s = s.slice(0, at) + rng.pick(TOKENS) + s.slice(at);
        break;
      case 2: // flip a byte
        s = s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
        break;
      case 3: {
        // duplicate or drop a line
        const lines = s.split('\n');
        const i = rng.int(lines.length);
        if (rng.int(2)) lines.splice(i, 0, lines[i]!);
        else lines.splice(i, 1);
        s = lines.join('\n');
        break;
      }
      case 4: // re-indent a line
        s = s.replace(/\n {2}/, rng.int(2) ? '\n' : '\n    ');
        break;
      default: // splice a piece of itself elsewhere
        s = s.slice(0, at) + s.slice(rng.int(s.length), rng.int(s.length)) + s.slice(at);
    }
  }
  return s;
}

function mutateValue(rng: Rng, v: unknown, depth = 0): unknown {
  if (depth > 6 || v === null || typeof v !== 'object') return rng.int(3) ? rng.pick(WEIRD) : v;
  // Only shapes JSON/YAML can produce: arrays get elements, objects get own keys (as JSON.parse defines
  // `__proto__`: an own property, never the prototype).
  if (Array.isArray(v)) {
    const arr = [...(v as unknown[])];
    if (arr.length === 0 || rng.int(5) === 0) arr.push(rng.pick(WEIRD));
    else if (rng.int(6) === 0) arr.splice(rng.int(arr.length), 1);
    else {
      const i = rng.int(arr.length);
      arr[i] = mutateValue(rng, arr[i], depth + 1);
    }
    return arr;
  }
  const obj: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const own = (k: string, x: unknown) => Object.defineProperty(obj, k, { value: x, enumerable: true, writable: true, configurable: true });
  const keys = Object.keys(obj);
  if (keys.length === 0 || rng.int(5) === 0) {
    own(rng.pick(['extra', 'tls', 'routes', 'allow', '__proto__', 'constructor', '0', 'name']), rng.pick(WEIRD));
    return obj;
  }
  const k = rng.pick(keys);
  if (rng.int(6) === 0) delete obj[k];
  else own(k, mutateValue(rng, obj[k], depth + 1));
  return obj;
}

t.test('config loader fuzz', async (t) => {
  t.comment(`seed ${FUZZ_SEED} (replay with FUZZ_SEED=${FUZZ_SEED})`);
  t.equal(check(() => resolveConfig(parseYaml(VALID))), null, 'the seed config is valid');
  const problems: string[] = [];
  const record = (what: string, input: unknown, p: string | null) => {
    if (p !== null && problems.length < 5) problems.push(`${what}: ${p}\ninput: ${JSON.stringify(input)?.slice(0, 400)}`);
  };
  const base = parseYaml(VALID);
  const runs = {
    random: forBudget(FUZZ_SEED, (rng) => {
      let s = '';
      const n = rng.int(40);
      for (let i = 0; i < n; i++) s += rng.int(3) ? rng.pick(TOKENS) : String.fromCharCode(32 + rng.int(95));
      record('random text', s, check(() => resolveConfig(parseYaml(s))));
    }),
    text: forBudget(FUZZ_SEED + 1, (rng) => {
      const s = mutateText(rng, VALID);
      record('mutated text', s, check(() => resolveConfig(parseYaml(s))));
    }),
    value: forBudget(FUZZ_SEED + 2, (rng) => {
      const v = mutateValue(rng, base);
      record('mutated value', v, check(() => resolveConfig(v)));
      if (rng.int(4) === 0) record('mutated value with overrides', v, check(() => resolveConfig(v, { upstream: rng.pick(['http://127.0.0.1:1', 'http://10.0.0.1', 'nope']), allow: { cn: ['a'] } })));
    }),
  };
  t.comment(`iterations: ${JSON.stringify(runs)}`);
  t.ok(runs.random > 100 && runs.text > 100 && runs.value > 100, 'each loop ran more than 100 inputs');
  t.same(problems, [], 'no crash, every rejection a config ZtpError');
});

t.test('regressions found by the fuzz', async (t) => {
  // An unresolved alias under a merge key used to escape as a ReferenceError from yaml's toJS.
  t.throws(() => parseYaml('constructor~<<: *a'), { code: 'ZTP_CONFIG_PARSE' });
  t.throws(() => parseYaml('listen: x\n<<: *missing\n'), { code: 'ZTP_CONFIG_PARSE' });
  // Alias bombs stop at maxAliasCount.
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
  t.throws(() => parseYaml(bomb), { code: 'ZTP_CONFIG_PARSE' }, 'billion laughs refused');
});
