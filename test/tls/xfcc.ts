/** A strict X-Forwarded-Client-Cert parser for tests: proves a DN cannot forge an XFCC field. */
/**
 * Parses an X-Forwarded-Client-Cert value per Envoy's grammar: elements split
 * by `,`, pairs by `;`, `key=value` where a value may be a quoted-string
 * with `\"` and `\\` escapes. Separators inside quotes do not split.
 * Throws on anything else (an unterminated quote, a pair without `=`).
 */
export function parseXfcc(v: string): Record<string, string[]>[] {
  const elements: Record<string, string[]>[] = [];
  let el: Record<string, string[]> = {};
  let i = 0;
  for (;;) {
    const eq = v.indexOf('=', i);
    if (eq === -1) throw new Error(`XFCC: no '=' after ${i}`);
    const key = v.slice(i, eq);
    if (!/^[A-Za-z]+$/.test(key)) throw new Error(`XFCC: bad key ${JSON.stringify(key)}`);
    let p = eq + 1;
    let value = '';
    if (v[p] === '"') {
      for (p++; ; p++) {
        if (p >= v.length) throw new Error('XFCC: unterminated quote');
        if (v[p] === '\\') value += v[++p] ?? '';
        else if (v[p] === '"') break;
        else value += v[p];
      }
      p++;
    } else {
      while (p < v.length && v[p] !== ';' && v[p] !== ',') value += v[p++];
    }
    (el[key] ??= []).push(value);
    if (p >= v.length) break;
    if (v[p] === ',') {
      elements.push(el);
      el = {};
    } else if (v[p] !== ';') throw new Error(`XFCC: junk at ${p}`);
    i = p + 1;
  }
  elements.push(el);
  return elements;
}
