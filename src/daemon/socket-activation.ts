/**
 * systemd socket activation (sd_listen_fds(3)): with `ztproxy.socket`,
 * systemd binds the port and passes it as fd 3 with LISTEN_PID and
 * LISTEN_FDS in the environment. In a cluster, the primary adopts it and
 * its workers share it through cluster (see ipc.ts `listenFd`).
 */
import { ZtpError } from '../util/index.js';

/** The first passed fd (SD_LISTEN_FDS_START). */
const FIRST_FD = 3;

/**
 * The listening fd systemd passed to this process, if any. Clears the
 * variables so child processes do not take the fd for theirs.
 *
 * @throws ZtpError `ZTP_LISTEN` when systemd passed other than one socket.
 */
export function socketActivationHandle(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): { fd: number } | undefined {
  if (env.LISTEN_PID !== String(pid) || env.LISTEN_FDS === undefined) return undefined;
  const n = Number(env.LISTEN_FDS);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (n !== 1) throw new ZtpError('ZTP_LISTEN', `socket activation: expected 1 socket, got LISTEN_FDS=${n}`);
  return { fd: FIRST_FD };
}
