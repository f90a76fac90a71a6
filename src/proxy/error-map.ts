/**
 * Maps upstream failures to an HTTP status and the `kind` label of
 * `ztproxy_upstream_errors_total`.
 */
import type { UpstreamErrorKind } from '../metrics/index.js';

export interface MappedError {
  readonly status: number;
  readonly kind: UpstreamErrorKind;
  /** True when the request never reached the upstream, so another address may be tried. */
  readonly connectFailed: boolean;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);

export function mapUpstreamError(err: unknown): MappedError {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (CONNECT_CODES.has(code)) return { status: 502, kind: 'connect', connectFailed: true };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { status: 504, kind: 'timeout', connectFailed: false };
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    return { status: 502, kind: 'tls', connectFailed: true };
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { status: 502, kind: 'reset', connectFailed: false };
  return { status: 502, kind: 'other', connectFailed: false };
}
