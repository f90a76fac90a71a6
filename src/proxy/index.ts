/**
 * The serving process: ProxyServer (lifecycle; the accept gate and the request
 * path live behind it), the upstream readiness probe, and the dry-run
 * `policy test`, which mirrors the request path's decision. See docs/architecture.md.
 */
export { formatPolicyTest, policyTest, readCertFile } from './policy-test.js';
export { ProxyServer } from './server.js';
export { UpstreamProbe } from './upstream-probe.js';
