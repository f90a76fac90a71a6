/**
 * The accept gate: per-connection admission on the mTLS listener.
 *
 * tls.Server does the handshake with `requestCert: true`,
 * `rejectUnauthorized: true` and the client-CA bundle and CRL.
 *
 * - A client that sends no certificate is refused by OpenSSL inside the
 *   handshake (SSL_VERIFY_FAIL_IF_NO_PEER_CERT): alert certificate_required
 *   (116) under TLS 1.3, handshake_failure (40) under TLS 1.2, before any
 *   application data; 'tlsClientError' reports it.
 * - A certificate that fails verification cannot get its alert: Node's
 *   OpenSSL verify callback accepts every chain so the handshake completes,
 *   and Node destroys the socket right after it (docs/protocols.md). Node
 *   then reports it through 'tlsClientError' with `authorizationError` set,
 *   the exact OpenSSL verify error for the metrics.
 * - What OpenSSL cannot be told (tls.verifyDepth, a CA certificate as the
 *   client certificate) is checked in 'secureConnection'; such sockets are
 *   destroyed before they are handed to HTTP.
 *
 * A verified socket gets its ClientConnection (identity, id, logger) and is
 * handed to HTTP/2 or HTTP/1.1. Every handshake is counted and timed from
 * the TCP accept; failures are logged (rate-limited). Nothing from an
 * unverified client is ever parsed, let alone forwarded.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/index.js';
import type { AccessLog } from '../log/index.js';
import { HANDSHAKE_ABORTED_MSG, HANDSHAKE_ABORTED_SUPPRESSED_MSG, HandshakeFailureLog } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import { chainViolation, handshakeAbortReason, handshakeErrorReason, IdentityCache, verifyFailureReason, type HandshakeAbortReason, type HandshakeFailureReason, type TlsMaterial } from '../tls/index.js';
import { attachConnection, ClientConnection } from './connection.js';
import { chainOf } from './revocation.js';

const kAcceptedAt = Symbol('ztproxy.acceptedAt');
type AcceptedSocket = Socket & { [kAcceptedAt]?: number };

/**
 * The TCP socket under a server-side TLSSocket. Node keeps it as the private
 * `_parent` (no public accessor): this is the one place that reads it.
 */
function rawSocketOf(s: tls.TLSSocket): AcceptedSocket | undefined {
  return (s as unknown as { _parent?: AcceptedSocket })._parent;
}

/**
 * Closes a client connection for good: the TLS socket and the TCP socket
 * under it. Once node:http2 has consumed the TLS socket's handle,
 * destroying the TLS socket alone may leave the TCP connection open.
 */
export function destroyConnection(socket: tls.TLSSocket): void {
  socket.destroy();
  rawSocketOf(socket)?.destroy();
}

/** What the gate needs from the server around it. */
export interface AcceptGateDeps {
  readonly log: Logger;
  readonly access: AccessLog;
  readonly metrics: Metrics;
  /** The current config and material (they change on reload). */
  readonly current: () => { readonly config: ResolvedConfig; readonly material: TlsMaterial };
  /** Starts the connection's age clock (ConnectionLifetime.track) at `now` (performance.now()). */
  readonly track: (s: tls.TLSSocket, now: number) => void;
  /** True when the connection was closed because its handshake predates a reload it fails (LiveRevocation.lateCheck). */
  readonly lateCheck: (s: tls.TLSSocket, acceptedAt: number | undefined) => boolean;
  /** Hands a verified socket to HTTP/2 (`h2` negotiated) or HTTP/1.1. */
  readonly handOff: (s: tls.TLSSocket) => void;
}

export class AcceptGate {
  readonly #deps: AcceptGateDeps;
  readonly #handshakeLog: HandshakeFailureLog;
  /** Debug lines of handshakes the client abandoned (browsers do it on every fresh visit). */
  readonly #abortLog: HandshakeFailureLog;
  /** Verified connections still open. */
  readonly sockets = new Set<tls.TLSSocket>();
  /** Identities by certificate: connections presenting the same one share it (parsed once). */
  readonly #identities = new IdentityCache();
  /** The success series, bound once: prom-client's label lookups on every handshake were 3.5 % of a handshake profile. */
  readonly #handshakeOk: { inc(): void };
  readonly #handshakeOkDuration: { observe(seconds: number): void };
  /** 'close' of every verified socket: one function for all of them, no closure per connection. */
  readonly #onSocketClose: (this: tls.TLSSocket) => void;
  #nextConnId = 0;
  readonly #connPrefix = randomBytes(3).toString('hex');

  constructor(deps: AcceptGateDeps) {
    this.#deps = deps;
    const sockets = this.sockets;
    const active = deps.metrics.connectionsActive;
    this.#onSocketClose = function (this: tls.TLSSocket) {
      active.dec();
      sockets.delete(this);
    };
    this.#handshakeOk = deps.metrics.handshakes.labels({ result: 'ok', reason: '' });
    this.#handshakeOkDuration = deps.metrics.handshakeDuration.labels({ result: 'ok' });
    this.#handshakeLog = new HandshakeFailureLog(deps.log);
    this.#handshakeLog.startAutoFlush();
    this.#abortLog = new HandshakeFailureLog(deps.log, { level: 'debug', message: HANDSHAKE_ABORTED_MSG, summaryMessage: HANDSHAKE_ABORTED_SUPPRESSED_MSG });
    this.#abortLog.startAutoFlush();
  }

  /** Puts the gate on `server`'s connections. */
  guard(server: tls.Server): void {
    server.prependListener('connection', (raw: AcceptedSocket) => {
      raw[kAcceptedAt] = performance.now();
    });
    server.on('secureConnection', this.#onSecure);
    server.on('tlsClientError', this.#onTlsError);
  }

  /** Flushes and stops the handshake failure logs. */
  close(): void {
    this.#handshakeLog.close();
    this.#abortLog.close();
  }

  #handshakeFailed(reason: HandshakeFailureReason, s: tls.TLSSocket, extra: Record<string, unknown>): void {
    const m = this.#deps.metrics;
    m.handshakes.inc({ result: 'failed', reason });
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    if (t0 !== undefined) m.handshakeDuration.observe({ result: 'failed' }, (performance.now() - t0) / 1000);
    this.#handshakeLog.failed({ reason, remoteAddress: s.remoteAddress ?? rawSocketOf(s)?.remoteAddress, ...extra });
  }

  #handshakeAborted(reason: HandshakeAbortReason, s: tls.TLSSocket, code: string | undefined): void {
    const m = this.#deps.metrics;
    m.handshakes.inc({ result: 'aborted', reason });
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    if (t0 !== undefined) m.handshakeDuration.observe({ result: 'aborted' }, (performance.now() - t0) / 1000);
    this.#abortLog.failed({ reason, remoteAddress: s.remoteAddress ?? rawSocketOf(s)?.remoteAddress, code });
  }

  #onTlsError = (err: Error & { code?: string }, s: tls.TLSSocket): void => {
    // With a 'tlsClientError' listener Node leaves the socket open (a handshake timeout would otherwise idle forever).
    s.destroy();
    const verifyError = s.authorizationError as unknown as string | null;
    if (verifyError) {
      // The handshake completed and Node destroyed the socket because OpenSSL did not verify the
      // chain (it reports that as a hang-up). The client sent a certificate: without one OpenSSL
      // would have failed the handshake itself.
      this.#handshakeFailed(verifyFailureReason(verifyError, true), s, { verifyError });
      return;
    }
    const abort = handshakeAbortReason(err.code, (rawSocketOf(s)?.bytesWritten ?? 0) > 0);
    if (abort !== null) {
      this.#handshakeAborted(abort, s, err.code);
      return;
    }
    const reason = handshakeErrorReason(err.code);
    // No certificate: OpenSSL never ran chain verification, so there is no verify error to report.
    this.#handshakeFailed(reason, s, reason === 'no_certificate' ? { code: err.code, verifyError: null } : { code: err.code });
  };

  #onSecure = (s: tls.TLSSocket): void => {
    const cert = s.getPeerX509Certificate();
    if (!s.authorized || cert === undefined) {
      // nodejs/node#35317: a resumed session may report `authorized` without a peer certificate; refuse it too.
      const reason = verifyFailureReason(s.authorizationError as unknown as string | null, cert !== undefined);
      this.#handshakeFailed(reason, s, { verifyError: cert === undefined ? null : (s.authorizationError ?? null) });
      s.destroy();
      return;
    }
    const { config, material } = this.#deps.current();
    // What OpenSSL cannot be told through Node: tls.verifyDepth, and no CA certificate as a client.
    const violation = chainViolation(cert, material.clientCAs, config.tls.verifyDepth);
    if (violation !== null) {
      this.#handshakeFailed('bad_certificate', s, { verifyError: violation });
      s.destroy();
      return;
    }
    let identity;
    try {
      identity = this.#identities.get(cert.raw, config.identityHeaders.rfc9440 ? chainOf(cert) : []);
    } catch (err) {
      this.#handshakeFailed('bad_certificate', s, { err });
      s.destroy();
      return;
    }
    this.#handshakeOk.inc();
    const t0 = rawSocketOf(s)?.[kAcceptedAt];
    const now = performance.now();
    if (t0 !== undefined) this.#handshakeOkDuration.observe((now - t0) / 1000);
    this.#deps.metrics.connectionsActive.inc();
    this.sockets.add(s);
    this.#deps.track(s, now);
    s.on('close', this.#onSocketClose); // 'close' comes once: no once() wrapper per connection
    const id = `${this.#connPrefix}-${(this.#nextConnId++).toString(36)}`;
    const sni = typeof s.servername === 'string' ? s.servername.toLowerCase() : '';
    attachConnection(s, new ClientConnection(id, identity, sni, s, this.#deps.log, this.#deps.access));
    // A handshake that began before the last reload was verified with the old material: check it with the new.
    if (this.#deps.lateCheck(s, t0)) return;
    this.#deps.handOff(s);
  };
}
