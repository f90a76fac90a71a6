/**
 * HTTP/2 header list size as RFC 9113 §6.5.2 defines it for
 * SETTINGS_MAX_HEADER_LIST_SIZE: the uncompressed length of every name and
 * value plus 32 bytes a field, pseudo-headers and each cookie crumb included.
 *
 * node:http2 advertises `maxHeaderListSize` but does not enforce it on what
 * it receives (checked on Node 20.20 and 24.22: a 40 KB header list passes
 * a 16384 setting), so the proxy enforces the value it advertises itself.
 */
export function headerListSize(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i++) n += Buffer.byteLength(rawHeaders[i]!, 'latin1');
  return n + 16 * rawHeaders.length; // 32 a field, two array entries a field
}
