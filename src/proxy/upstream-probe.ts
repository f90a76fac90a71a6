/**
 * Upstream reachability for /readyz: every `intervalMs`, one TCP connect to
 * each upstream address of the current config (deduplicated across routes;
 * TCP only, no TLS handshake and no request, so it costs the upstream an
 * accept and a close). An address is reachable when its latest probe
 * connected; ztproxy is ready when at least one address is. A probe that
 * takes longer than the interval counts as a failure.
 */
import net from 'node:net';
import type { ResolvedConfig } from '../config/index.js';

export interface ProbeReport {
  /** At least one upstream address is reachable. */
  readonly ok: boolean;
  /** `upstream <origin>` → reachable, for every address of the current config. */
  readonly checks: Record<string, boolean>;
}

interface State {
  ok: boolean;
  /** performance.now() of the last finished probe. */
  at: number;
}

export class UpstreamProbe {
  readonly #config: () => ResolvedConfig;
  readonly #intervalMs: () => number;
  readonly #state = new Map<string, State>();
  #timer: NodeJS.Timeout | null = null;
  #sockets = new Set<net.Socket>();

  /** `config` is read at every round, so reloads are followed. */
  constructor(config: () => ResolvedConfig) {
    this.#config = config;
    this.#intervalMs = () => config().metrics.upstreamProbeIntervalMs;
  }

  /** Probes now, then every interval. */
  start(): void {
    if (this.#timer !== null) return;
    const round = () => {
      this.#round();
      this.#timer = setTimeout(round, this.#intervalMs());
      this.#timer.unref();
    };
    round();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const s of this.#sockets) s.destroy();
  }

  #origins(): string[] {
    return [...new Set(this.#config().routes.flatMap((r) => r.upstream.origins))];
  }

  report(): ProbeReport {
    const checks: Record<string, boolean> = {};
    const stale = performance.now() - 2 * this.#intervalMs();
    let ok = false;
    for (const origin of this.#origins()) {
      const s = this.#state.get(origin);
      const up = s !== undefined && s.ok && s.at >= stale;
      checks[`upstream ${origin}`] = up;
      ok ||= up;
    }
    return { ok, checks };
  }

  #round(): void {
    const timeoutMs = this.#intervalMs();
    for (const origin of this.#origins()) {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        continue;
      }
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      const s = net.connect({ host, port });
      this.#sockets.add(s);
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        this.#state.set(origin, { ok, at: performance.now() });
        this.#sockets.delete(s);
        s.destroy();
      };
      s.setTimeout(timeoutMs, () => finish(false));
      s.once('connect', () => finish(true));
      s.once('error', () => finish(false));
      s.once('close', () => finish(false));
    }
  }
}
