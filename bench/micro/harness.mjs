// A tiny loop harness for the micro benches: warm up (so V8 has optimized the function, as it has
// in a long-running proxy), then time batches with process.hrtime.bigint until MIN_MS have passed and
// report ns per call (median of the batches, plus the fastest). Results are folded into a sink so V8
// cannot drop the calls as dead code. Env: MIN_MS (per case, default 1000).
const MIN_MS = Number(process.env.MIN_MS ?? 1000);
let sink = 0;

/** Folds a result into the sink (strings by length, arrays by length, objects by one field). */
export function consume(x) {
  if (typeof x === 'string' || Array.isArray(x)) sink += x.length;
  else if (x === null || x === undefined) sink += 1;
  else sink += typeof x === 'object' ? Object.keys(x).length : Number(x) | 0;
}

/** Times `fn` (which must call consume on its result) and prints one line. */
export function bench(name, fn, batch = 10_000) {
  for (let i = 0; i < batch * 5; i++) fn(); // warm-up: tiers up to optimized code
  const perCall = [];
  const until = process.hrtime.bigint() + BigInt(MIN_MS) * 1_000_000n;
  let calls = 0;
  while (process.hrtime.bigint() < until) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    perCall.push(Number(process.hrtime.bigint() - t0) / batch);
    calls += batch;
  }
  perCall.sort((a, b) => a - b);
  const med = perCall[perCall.length >> 1];
  console.log(`${name.padEnd(62)} ${med.toFixed(1).padStart(9)} ns/call (min ${perCall[0].toFixed(1)}, ${(1e9 / med / 1e6).toFixed(2)} M/s, ${calls} calls)`);
  return med;
}

process.on('exit', () => {
  if (sink === 0.5) console.log(''); // keeps sink observable
});
