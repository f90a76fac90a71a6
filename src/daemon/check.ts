/** `serve --check`: what an operator reads after `nginx -t`, from the loaded config and TLS material. */
import type { ResolvedConfig } from '../config/index.js';
import { loadTlsMaterial } from '../tls/index.js';

/**
 * Loads the TLS material of `config` and describes config and material in
 * a few lines (no trailing newline).
 *
 * @throws ZtpError `ZTP_TLS_*` when the material does not load (exit 3).
 */
export async function checkSummary(config: ResolvedConfig): Promise<string> {
  const m = await loadTlsMaterial(config);
  return [
    `config ok${config.source ? `: ${config.source}` : ''}`,
    `listen ${config.listen}, workers ${config.workers}, metrics ${config.metrics.listen === false ? 'off' : config.metrics.listen}`,
    `server certificate: ${m.serverSubject}, expires ${new Date(m.serverNotAfterMs).toISOString()}`,
    `client CAs: ${m.clientCaSubjects.join('; ')}`,
    `CRLs: ${m.crlCount}${m.crlNextUpdateMs !== null ? `, next update ${new Date(m.crlNextUpdateMs).toISOString()}` : ''}`,
    `key exchange groups: ${String(m.options.ecdhCurve).split(':').join(', ')} (Node ${process.version}, OpenSSL ${process.versions.openssl})`,
    ...config.routes.map((r) => `route ${r.name}: ${r.host ?? '*'}${r.pathPrefix} -> ${r.upstream.origins.join(', ')}${r.allow || r.deny ? ' (policy)' : ''}`),
  ].join('\n');
}
