// Header rewriting, run on every request (src/proxy/headers.ts): upstreamRequestHeaders on the
// client's raw header array (drop hop-by-hop and identity-smuggling headers, append Host, X-Forwarded-*,
// X-Request-Id and the connection's identity headers) and downstreamResponseHeaders on undici's raw
// Buffer pairs. Inputs are what the macro bench sends (ab's three headers) and a browser-like request
// with 12 headers, including a spoofed identity header that must be stripped; the identity array is what
// the quick-start config and the all-features config (3 extra headers) forward.
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../../dist/proxy/headers.js';
import { bench, consume } from './harness.mjs';

const ab = ['Host', '127.0.0.1:8443', 'User-Agent', 'ApacheBench/2.3', 'Accept', '*/*', 'Connection', 'Keep-Alive'];
const browser = [
  'Host', 'api.internal', 'Connection', 'keep-alive', 'sec-ch-ua', '"Chromium";v="124"', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36',
  'Accept', 'application/json', 'Accept-Encoding', 'gzip, deflate, br', 'Accept-Language', 'en-US,en;q=0.9', 'Cookie', 'session=0123456789abcdef; theme=dark',
  'X-Forwarded-For', '10.0.0.7', 'X_Client_Subject_DN', 'CN=admin', 'Referer', 'https://api.internal/ui', 'Authorization', 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig',
];
const dn = ['x-client-subject-dn', 'CN=bench,OU=bench'];
const all = [...dn, 'x-client-issuer-dn', 'CN=ztproxy CA', 'x-client-serial', '1954DD65F36B98BE56B2F7123C1E8992', 'x-client-fingerprint', '3f2a9c0d1e5b7a8f6c4d2e0b9a8f7e6d5c4b3a21'];
const names = new Set(['x-client-subject-dn', 'x-client-issuer-dn', 'x-client-serial', 'x-client-fingerprint']);
const facts = (identity) => ({ host: 'api.internal', requestId: '6f1c1d2e-8f0a-4a8e-9b1e-3c2d1e0f9a8b', remoteAddress: '127.0.0.1', identity });
const fDefault = facts(dn);
const fAll = facts(all);
const nginxResponse = ['Server', 'nginx/1.22.1', 'Date', 'Sun, 23 Nov 2025 15:00:00 GMT', 'Content-Type', 'text/plain', 'Content-Length', '2', 'Connection', 'keep-alive'].map((s) => Buffer.from(s, 'latin1'));

bench('upstreamRequestHeaders ab request, default identity', () => consume(upstreamRequestHeaders(ab, fDefault, names)));
bench('upstreamRequestHeaders ab request, all-features identity', () => consume(upstreamRequestHeaders(ab, fAll, names)));
bench('upstreamRequestHeaders 12-header browser request', () => consume(upstreamRequestHeaders(browser, fAll, names)));
bench('downstreamResponseHeaders nginx response', () => consume(downstreamResponseHeaders(nginxResponse, fDefault.requestId)));
