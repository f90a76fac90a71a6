/**
 * From the serve command's options to what the daemon runs with: the
 * effective flags (--dev defaults included), the loaded config, the --dev
 * echo upstream, and how to load the same config again on a reload.
 */
import { resolve as resolvePath } from 'node:path';
import { loadConfig, type ConfigOverrides, type ResolvedConfig } from '../config/index.js';
import { startEchoUpstream, type EchoUpstream } from '../dev/index.js';

export interface ServeOptions {
  config?: string;
  overrides: ConfigOverrides;
  dev: boolean;
  check: boolean;
  /** Where --dev keeps its certificates (default ./certs-dev). */
  devDir?: string;
}

/** The config as the process started it; reloads and workers load it again the same way. */
export interface ConfigSource {
  /** The config file, if any (watched for changes). */
  readonly path: string | undefined;
  /** The effective flags of the start (--dev paths and the echo upstream URL included): they still override on reload. */
  readonly overrides: ConfigOverrides;
}

/** What {@link prepare} resolved. */
export interface Prepared {
  readonly config: ResolvedConfig;
  readonly source: ConfigSource;
  /** The --dev echo upstream this process started, to close at stop. */
  readonly echo: EchoUpstream | null;
  /** The --dev curl line with a `{PORT}` placeholder. */
  readonly devNote: string | null;
  /** How errors name the two addresses: the flag that set them, or the config key. */
  readonly keys: ListenKeys;
}

export interface ListenKeys {
  readonly listen: string;
  readonly metrics: string;
}

/**
 * Loads the config the serve command asked for. With --dev, makes the
 * certificates when missing and, when no upstream or config is given (and
 * not --check), starts the echo upstream. The caller's options are not changed.
 *
 * @throws ZtpError from config loading (exit 3) or the dev CA.
 */
export async function prepare(o: ServeOptions): Promise<Prepared> {
  const overrides: ConfigOverrides = { ...o.overrides };
  let echo: EchoUpstream | null = null;
  let devNote: string | null = null;
  if (o.dev) {
    // Loaded only here: the CA library is not needed to serve.
    const { ensureDevCerts } = await import('../dev/dev-certs.js');
    const dev = await ensureDevCerts(resolvePath(o.devDir ?? 'certs-dev'));
    overrides.cert ??= dev.serverCert;
    overrides.key ??= dev.serverKey;
    overrides.clientCA ??= dev.caCert;
    overrides.crl ??= dev.crl;
    overrides.listen ??= '127.0.0.1:8443';
    if (overrides.upstream === undefined && o.config === undefined && !o.check) {
      echo = await startEchoUpstream();
      overrides.upstream = echo.url;
    }
    const rel = (p: string) => p.replace(process.cwd() + '/', '');
    devNote = `curl --cacert ${rel(dev.caCert)} --cert ${rel(dev.clientCert)} --key ${rel(dev.clientKey)} https://localhost:{PORT}/`;
  }
  const source: ConfigSource = { path: o.config, overrides };
  try {
    return { config: await reloadConfig(source), source, echo, devNote, keys: listenKeys(o) };
  } catch (err) {
    await echo?.close();
    throw err;
  }
}

/** Loads the config of `source` again (reloads, workers). */
export function reloadConfig(source: ConfigSource): Promise<ResolvedConfig> {
  return loadConfig(source.path, source.overrides);
}

/** The files whose change triggers a reload: the TLS material and the config file. */
export function watchedFiles(config: ResolvedConfig, source: ConfigSource): string[] {
  const t = config.tls;
  return [t.cert, t.key, t.clientCA, ...(t.crl ? [t.crl] : []), ...(source.path ? [source.path] : [])];
}

/** The flag that set each address, else its config key (--dev sets listen when nothing else did). */
export function listenKeys(o: Pick<ServeOptions, 'overrides' | 'dev'>): ListenKeys {
  return {
    listen: o.overrides.listen !== undefined ? '--listen' : o.dev ? '--dev' : 'listen',
    metrics: o.overrides.metricsListen !== undefined ? '--metrics-listen' : 'metrics.listen',
  };
}
