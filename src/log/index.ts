/** pino set-up, the batched access log and the handshake-failure log. */
export { AccessLog, type AccessRecord } from './access-log.js';
export { HANDSHAKE_ABORTED_MSG, HANDSHAKE_ABORTED_SUPPRESSED_MSG, HandshakeFailureLog } from './handshake-failure-log.js';
export { createLogger } from './logger.js';
