/**
 * Per-connection state: the verified peer identity and what is derived from
 * it, computed once per connection (identity headers per config
 * generation, policy decisions per route).
 */
import type { ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Decision } from '../authz/index.js';
import type { AccessLog, AccessRecord } from '../log/index.js';
import { negotiatedGroup, type PeerIdentity } from '../tls/index.js';
import { buildIdentityHeaders } from './identity-headers.js';
import type { Runtime } from './runtime.js';

/**
 * Where a connection lives on its TLS socket: a symbol-keyed property, the one
 * way it is attached. A property (not a WeakMap) because an HTTP/2 request's
 * `req.socket` is a Proxy of the TLS socket that forwards property reads.
 */
const kConnection = Symbol('ztproxy.connection');

type ConnectionSocket = { [kConnection]?: ClientConnection };

/** The connection of a verified client's socket (or of an HTTP/2 request's socket proxy); undefined for any other. */
export function connectionOf(socket: object | null | undefined): ClientConnection | undefined {
  return (socket as ConnectionSocket | null | undefined)?.[kConnection];
}

/** Attaches `conn` to its verified client's TLS socket. */
export function attachConnection(socket: TLSSocket, conn: ClientConnection): void {
  (socket as ConnectionSocket)[kConnection] = conn;
}

export class ClientConnection {
  readonly id: string;
  readonly identity: PeerIdentity;
  /** TLS server name the client asked for (lower case), '' without SNI. */
  readonly sni: string;
  readonly remoteAddress: string;
  readonly #socket: TLSSocket;
  readonly #baseLog: Logger;
  readonly #access: AccessLog;
  #log: Logger | null = null;
  #tlsGroup: string | null = null;
  #generation = 0;
  #headers: readonly string[] = [];
  #decisions: (Decision | undefined)[] = [];
  #closing = false;
  /** The HTTP/2 session on this connection, once Http2Front took it over. */
  h2Session: ServerHttp2Session | null = null;

  /** `log` is the process logger; the connection's child (bound to `connId`) is made on first use. */
  constructor(id: string, identity: PeerIdentity, sni: string, socket: TLSSocket, log: Logger, access: AccessLog) {
    this.id = id;
    this.identity = identity;
    this.sni = sni;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.#socket = socket;
    this.#baseLog = log;
    this.#access = access;
  }

  /**
   * True once an HTTP/1.1 response with `Connection: close` was decided on
   * this connection: every request parsed after it (node:http parses
   * pipelined requests ahead) is dropped unanswered, never forwarded, and
   * node:http closes the socket once that response is written.
   */
  get closing(): boolean {
    return this.#closing;
  }

  /** Marks the connection {@link closing}; it never reopens. */
  closeAfterResponse(): void {
    this.#closing = true;
  }

  /** Writes an access-log record with this connection's id and key-exchange group. */
  logAccess(record: AccessRecord): void {
    record.connId = this.id;
    record.tlsGroup = this.tlsGroup;
    this.#access.write(record);
  }

  /**
   * The key-exchange group the connection negotiated (`X25519MLKEM768`, `X25519`, …; see src/tls/groups.ts).
   * Read on first use, not per handshake: it costs a serialization of the TLS session (a few µs), paid
   * only by connections that write an access-log line. Null when the socket closed before the first read.
   */
  get tlsGroup(): string | null {
    return (this.#tlsGroup ??= negotiatedGroup(this.#socket));
  }

  /** Logger bound to this connection; created lazily (a child per idle connection costs memory). */
  get log(): Logger {
    return (this.#log ??= this.#baseLog.child({ connId: this.id }));
  }

  #sync(rt: Runtime): void {
    if (this.#generation !== rt.generation) {
      this.#generation = rt.generation;
      this.#headers = buildIdentityHeaders(this.identity, rt.identityOptions);
      this.#decisions = [];
    }
  }

  /** Identity headers under the config of `rt`. */
  identityHeaders(rt: Runtime): readonly string[] {
    this.#sync(rt);
    return this.#headers;
  }

  /** Policy decision of route `index` under `rt`, evaluated once per connection. */
  decision(rt: Runtime, index: number): Decision {
    this.#sync(rt);
    let d = this.#decisions[index];
    if (d === undefined) {
      d = rt.routes[index]!.policy.evaluate(this.identity);
      this.#decisions[index] = d;
    }
    return d;
  }
}
