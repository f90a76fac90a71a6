// Per-connection growth of a V8 heap snapshot, by constructor: count and self size of the objects in
// AFTER minus those in BEFORE, divided by N (the connections opened between the two snapshots). Native
// nodes (TLSWrap, TCPWrap, NodeBIO buffers…) appear with the sizes Node's MemoryTracker reports for them,
// which lie outside the V8 heap. Usage: node bench/micro/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot N [TOP]
import { readFileSync } from 'node:fs';

const [before, after, nArg, topArg] = process.argv.slice(2);
const N = Number(nArg);
const TOP = Number(topArg ?? 25);

function summarize(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((k) => f.indexOf(k));
  const out = new Map();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const type = types[s.nodes[i + iType]];
    let name = s.strings[s.nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'code') name = '(code)';
    else if (type === 'array' && name.length > 40) name = name.slice(0, 40);
    else if (type === 'hidden' || type === 'object shape') name = `(${type}) ${name.slice(0, 40)}`;
    const key = `${type}: ${name.slice(0, 80)}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += s.nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

const a = summarize(before);
const b = summarize(after);
const rows = [];
let total = 0;
for (const [k, e] of b) {
  const o = a.get(k) ?? { count: 0, size: 0 };
  const dc = e.count - o.count;
  const ds = e.size - o.size;
  total += ds;
  if (ds !== 0 || dc !== 0) rows.push([k, dc / N, ds / N]);
}
rows.sort((x, y) => y[2] - x[2]);
console.log(`per connection (N=${N}): self size ${(total / N / 1024).toFixed(2)} KB in all`);
console.log('| objects per conn | bytes per conn | type: name |\n|---|---|---|');
for (const [k, c, s] of rows.slice(0, TOP)) console.log(`| ${c.toFixed(2)} | ${s.toFixed(0)} | ${k} |`);
