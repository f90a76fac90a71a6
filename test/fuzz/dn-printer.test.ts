// Fuzz of the DN printer (formatDN) for a bounded time: random bytes,
// structured random Names (random OIDs, string tags, values with every byte,
// multi-valued RDNs) and byte/length mutations of valid Names. Nothing may
// crash or hang: every input gives printable ASCII (so a DN can never split or
// inject a header) or a ZtpError ZTP_TLS_DER.
import t from 'tap';
import { formatDN } from '../../src/tls/index.js';
import { isZtpError } from '../../src/util/errors.js';
import { tlv } from '../../src/ca/der.js';
import { FUZZ_SEED, forBudget, type Rng } from './fuzz-rng.js';

const STRING_TAGS = [0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1a, 0x1c, 0x1e, 0x04, 0x02, 0x05, 0x30, 0x03, 0x80, 0xa0];
const OIDS = ['550403', '55040a', '55040b', '550406', '2a864886f70d010901', '0992268993f22c640119', '2a0304', '8fffffffffffffff7f', '00', '', '80808001'];

function randomName(rng: Rng): Buffer {
  const rdns: Buffer[] = [];
  const n = rng.int(6);
  for (let i = 0; i < n; i++) {
    const atvs: Buffer[] = [];
    const m = 1 + rng.int(rng.int(4) === 0 ? 4 : 1);
    for (let j = 0; j < m; j++) {
      const oid = rng.int(5) === 0 ? rng.bytes(rng.int(12)) : Buffer.from(rng.pick(OIDS), 'hex');
      const len = rng.int(8) === 0 ? rng.int(300) : rng.int(12);
      atvs.push(tlv(0x30, Buffer.concat([tlv(0x06, oid), tlv(rng.pick(STRING_TAGS), rng.bytes(len))])));
    }
    rdns.push(tlv(0x31, Buffer.concat(atvs)));
  }
  return tlv(0x30, Buffer.concat(rdns));
}

function mutate(rng: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const n = 1 + rng.int(3);
  let cur = out;
  for (let k = 0; k < n && cur.length > 0; k++) {
    const at = rng.int(cur.length);
    switch (rng.int(4)) {
      case 0:
        cur[at] = rng.int(256);
        break;
      case 1:
        cur = cur.subarray(0, at);
        break;
      case 2:
        cur[at] = rng.pick([0x80, 0x81, 0x82, 0x84, 0x85, 0xff, 0x00, 0x7f]);
        break;
      default:
        cur = Buffer.concat([cur.subarray(0, at), rng.bytes(rng.int(4)), cur.subarray(at)]);
    }
  }
  return cur;
}

function check(der: Buffer): string | null {
  try {
    const s = formatDN(der);
    if (typeof s !== 'string' || !/^[\x20-\x7e]*$/.test(s)) return `non-printable output ${JSON.stringify(s)}`;
    return null;
  } catch (err) {
    if (!isZtpError(err, 'ZTP_TLS_DER')) return `threw ${String((err as Error)?.stack ?? err).slice(0, 300)}`;
    return null;
  }
}

t.test('DN printer fuzz', async (t) => {
  t.comment(`seed ${FUZZ_SEED} (replay with FUZZ_SEED=${FUZZ_SEED})`);
  const problems: string[] = [];
  const record = (what: string, der: Buffer) => {
    const p = check(der);
    if (p !== null && problems.length < 5) problems.push(`${what}: ${p}\ninput: ${der.toString('hex').slice(0, 400)}`);
  };
  let printed = 0;
  const runs = {
    bytes: forBudget(FUZZ_SEED, (rng) => record('random bytes', rng.int(3) ? rng.bytes(rng.int(64)) : Buffer.concat([Buffer.from([0x30, rng.int(256)]), rng.bytes(rng.int(64))]))),
    structured: forBudget(FUZZ_SEED + 1, (rng) => {
      const der = randomName(rng);
      record('structured', der);
      if (check(der) === null) printed++;
    }),
    mutated: forBudget(FUZZ_SEED + 2, (rng) => record('mutated', mutate(rng, randomName(rng)))),
  };
  t.comment(`iterations: ${JSON.stringify(runs)}`);
  t.ok(runs.bytes > 100 && runs.structured > 100 && runs.mutated > 100, 'each loop ran more than 100 inputs');
  t.ok(printed > runs.structured / 2, 'most structured Names print (the fuzz reaches the escaping code)');
  t.same(problems, [], 'no crash, printable ASCII or ZTP_TLS_DER');
});

t.test('a well-formed Name still prints as before', async (t) => {
  const name = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from('550403', 'hex')), tlv(0x0c, Buffer.from('a,b\u0000'))]))));
  t.equal(formatDN(name), 'CN=a\\,b\\00');
  t.throws(() => formatDN(Buffer.from([0x30, 0x05, 0x31])), { code: 'ZTP_TLS_DER' });
});
