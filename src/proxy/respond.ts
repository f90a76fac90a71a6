import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** The body of every error ztproxy answers itself: a one-line JSON object. */
function errorBody(status: number, requestId: string, message: string): string {
  return JSON.stringify({ error: message, status, requestId }) + '\n';
}

const REASON: Record<number, string> = {
  400: 'bad request',
  403: 'forbidden by identity policy',
  404: 'no route',
  405: 'method not allowed',
  408: 'request timeout',
  421: 'misdirected request: TLS server name and Host name different virtual hosts',
  429: 'too many requests',
  431: 'request header fields too large',
  502: 'upstream unavailable',
  503: 'upstream busy',
  504: 'upstream timed out',
};

/**
 * True when nothing can be sent on `res` any more. An HTTP/2 compat response
 * has no `.destroyed`: its stream tells.
 */
export function responseGone(res: ServerResponse): boolean {
  const stream = (res as ServerResponse & { stream?: { destroyed: boolean; closed: boolean } }).stream;
  return stream !== undefined ? stream.destroyed || stream.closed : res.destroyed;
}

/**
 * Answers with a small JSON error carrying the request id (plus `extra`
 * header pairs); never throws (a response that cannot be written is
 * destroyed). Whatever an earlier writeHead that threw left behind (headers
 * of a malformed upstream response, its reason phrase) is cleared first.
 */
export function sendError(res: ServerResponse, status: number, requestId: string, message = REASON[status] ?? 'error', close = false, extra: readonly string[] = []): void {
  if (res.headersSent || responseGone(res)) return;
  const body = errorBody(status, requestId, message);
  const headers: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'x-request-id', requestId, ...extra];
  const h2 = 'stream' in res;
  if (close && !h2) headers.push('connection', 'close'); // an HTTP/2 response (it has .stream) has no Connection header
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    if (!h2) res.statusMessage = '';
    res.writeHead(status, headers);
    res.end(body);
  } catch {
    res.destroy();
  }
}

/** Writes a small JSON error on a raw (not yet upgraded) HTTP/1.1 connection and closes it. */
export function sendRawError(socket: Duplex, status: number, requestId: string, message = STATUS_CODES[status]?.toLowerCase() ?? 'error'): void {
  if (socket.destroyed || !socket.writable) return;
  const body = errorBody(status, requestId, message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}
