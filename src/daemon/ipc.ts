/**
 * What a cluster primary and its workers tell each other: the environment a
 * worker is forked with, and the messages on the IPC channel, each typed by
 * its `type` literal (the pattern of metrics/cluster.ts). Nothing crosses
 * untyped; a message that does not parse is ignored.
 */
import type { ConfigOverrides } from '../config/index.js';
import type { ErrorCode } from '../util/index.js';

const RELOAD = 'ztproxy:reload';
const STOP = 'ztproxy:stop';
const TICKET_KEYS = 'ztproxy:ticket-keys';
const READY = 'ztproxy:ready';
const FAILED = 'ztproxy:failed';
const WANT_KEYS = 'ztproxy:want-keys';

/** Session ticket keys as they cross the channel: 48 bytes, hex. */
const KEYS_HEX = /^[0-9a-f]{96}$/;

/** Primary → worker: reload the config, with the cluster's new ticket keys. */
export interface ReloadMessage {
  type: typeof RELOAD;
  keys: string;
}
/** Primary → worker: the cluster's current ticket keys (at start and every rotation). */
export interface TicketKeysMessage {
  type: typeof TICKET_KEYS;
  keys: string;
}
/** Primary → worker: drain and exit. */
export interface StopMessage {
  type: typeof STOP;
}
/** Worker → primary: listening on `port`. */
export interface ReadyMessage {
  type: typeof READY;
  port: number;
}
/** Worker → primary: send me the cluster's ticket keys (it listens only once it holds them). */
export interface WantKeysMessage {
  type: typeof WANT_KEYS;
}
/** Worker → primary: start-up failed with a ZtpError the primary ends with too (a busy port). */
export interface FailedMessage {
  type: typeof FAILED;
  code: ErrorCode;
  /** The error and its causes on one line (`describeError`). */
  message: string;
}

export type ToWorker = ReloadMessage | TicketKeysMessage | StopMessage;
export type ToPrimary = ReadyMessage | FailedMessage | WantKeysMessage;

/** Something that can be sent a message: a cluster `Worker`, or `process` in a worker. */
interface Channel {
  send?(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): unknown;
}

export const toWorker = {
  reload: (keys: Buffer): ReloadMessage => ({ type: RELOAD, keys: keys.toString('hex') }),
  ticketKeys: (keys: Buffer): TicketKeysMessage => ({ type: TICKET_KEYS, keys: keys.toString('hex') }),
  stop: (): StopMessage => ({ type: STOP }),
};

export const toPrimary = {
  ready: (port: number): ReadyMessage => ({ type: READY, port }),
  wantKeys: (): WantKeysMessage => ({ type: WANT_KEYS }),
  failed: (code: ErrorCode, message: string): FailedMessage => ({ type: FAILED, code, message }),
};

/** Sends `message`; a channel already closed (the peer is exiting) drops it. */
export function send(channel: Channel, message: ToWorker | ToPrimary): void {
  try {
    channel.send?.(message);
  } catch {
    // ERR_IPC_CHANNEL_CLOSED: the peer is gone; its exit is handled where exits are.
  }
}

/** Sends `message` and resolves once it is written (before an exit that must not lose it); never rejects. */
export function sendAndWait(channel: Channel, message: ToWorker | ToPrimary): Promise<void> {
  return new Promise((resolve) => {
    try {
      if (!channel.send) resolve();
      else channel.send(message, undefined, undefined, () => resolve());
    } catch {
      resolve();
    }
  });
}

/** Parses a message a worker received; null when it is not one of ours. */
export function parseToWorker(m: unknown): ToWorker | null {
  if (!isObject(m)) return null;
  if (m.type === STOP) return { type: STOP };
  if ((m.type === RELOAD || m.type === TICKET_KEYS) && typeof m.keys === 'string' && KEYS_HEX.test(m.keys)) return { type: m.type, keys: m.keys };
  return null;
}

/** Parses a message the primary received from a worker; null when it is not one of ours. */
export function parseToPrimary(m: unknown): ToPrimary | null {
  if (!isObject(m)) return null;
  if (m.type === READY && Number.isInteger(m.port)) return { type: READY, port: m.port as number };
  if (m.type === WANT_KEYS) return { type: WANT_KEYS };
  if (m.type === FAILED && typeof m.code === 'string' && typeof m.message === 'string') return { type: FAILED, code: m.code as ErrorCode, message: m.message };
  return null;
}

/** The keys of a reload or ticket-keys message. */
export function keysOf(m: ReloadMessage | TicketKeysMessage): Buffer {
  return Buffer.from(m.keys, 'hex');
}

const OVERRIDES_ENV = 'ZTPROXY_WORKER_OVERRIDES';
const LISTEN_FD_ENV = 'ZTPROXY_LISTEN_FD';

/** What a worker inherits from its primary at fork. */
export interface WorkerStart {
  /** The primary's effective flags (--dev paths, the echo upstream URL included). */
  overrides: ConfigOverrides;
  /** The socket-activated fd the primary adopted, shared through cluster. */
  listenFd: number | undefined;
}

/** The environment of `cluster.fork`. Ticket keys never go here (other processes can read an environment). */
export function workerEnv(start: WorkerStart): Record<string, string> {
  const env: Record<string, string> = { [OVERRIDES_ENV]: JSON.stringify(start.overrides) };
  if (start.listenFd !== undefined) env[LISTEN_FD_ENV] = String(start.listenFd);
  return env;
}

/** Reads {@link workerEnv} in a worker; null when the process was not forked by a ztproxy primary. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerStart | null {
  const overrides = env[OVERRIDES_ENV];
  if (overrides === undefined) return null;
  const fd = env[LISTEN_FD_ENV];
  return { overrides: JSON.parse(overrides) as ConfigOverrides, listenFd: fd ? Number(fd) : undefined };
}

function isObject(m: unknown): m is Record<string, unknown> {
  return typeof m === 'object' && m !== null;
}
