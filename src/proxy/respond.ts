import type { ServerResponse } from 'node:http';

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

/** Answers with a small JSON error carrying the request id (plus `extra` header pairs); never throws. */
export function sendError(res: ServerResponse, status: number, requestId: string, message = REASON[status] ?? 'error', close = false, extra: readonly string[] = []): void {
  if (res.headersSent || responseGone(res)) return;
  const body = JSON.stringify({ error: message, status, requestId }) + '\n';
  const headers: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'x-request-id', requestId, ...extra];
  if (close && !('stream' in res)) headers.push('connection', 'close'); // an HTTP/2 response (it has .stream) has no Connection header
  res.writeHead(status, headers);
  res.end(body);
}
