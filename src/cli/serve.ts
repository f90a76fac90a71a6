import type { ConfigOverrides, IdentityRule } from '../config/index.js';
import { serve } from '../daemon/index.js';
import { ZtpError } from '../util/index.js';
import { command } from './command.js';

function parseWorkers(v: string | undefined): number | 'auto' | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto') return 'auto';
  if (!/^[1-9][0-9]{0,2}$/.test(v)) throw new ZtpError('ZTP_USAGE', `--workers: expected a number or "auto", got ${JSON.stringify(v)}`);
  return Number(v);
}

/** `ztproxy serve`: run the mTLS proxy from a config file and/or quick-start flags. */
export const serveCommand = command({
  command: 'serve',
  describe: 'run the mTLS reverse proxy (config file and/or quick-start flags; flags win)',
  builder: (y) =>
    y
      .option('config', { type: 'string', describe: 'YAML config file' })
      .option('listen', { type: 'string', describe: 'HOST:PORT of the mTLS listener' })
      .option('cert', { type: 'string', describe: 'server certificate (leaf + chain, PEM)' })
      .option('key', { type: 'string', describe: 'server private key (PEM)' })
      .option('client-ca', { type: 'string', describe: 'trusted client CA bundle (PEM)' })
      .option('crl', { type: 'string', describe: 'CRL file (PEM)' })
      .option('upstream', { type: 'string', describe: 'upstream URL (one route for every request)' })
      .option('metrics-listen', { type: 'string', describe: 'HOST:PORT of /metrics, /healthz, /readyz ("off" to disable)' })
      .option('workers', { type: 'string', describe: 'worker processes: a number or "auto" (default 1)' })
      .option('log-level', { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] })
      .option('allow-cn', { type: 'string', array: true, describe: 'allow only these subject CNs' })
      .option('allow-ou', { type: 'string', array: true, describe: 'allow only these subject OUs' })
      .option('allow-uri', { type: 'string', array: true, describe: 'allow only these SAN URIs (SPIFFE IDs)' })
      .option('allow-dns', { type: 'string', array: true, describe: 'allow only these SAN DNS names' })
      .option('insecure-plaintext-upstream', { type: 'boolean', default: false, describe: 'allow http:// to a non-loopback upstream (logs a warning)' })
      .option('dev', { type: 'boolean', default: false, describe: 'dev defaults: certificates in ./certs-dev, 127.0.0.1:8443, built-in echo upstream' })
      .option('check', { type: 'boolean', default: false, describe: 'validate config and TLS material, print a summary, exit (like nginx -t)' })
      .example('$0 serve --config /etc/ztproxy/ztproxy.yaml', '')
      .example('$0 serve --listen 0.0.0.0:8443 --cert server.crt --key server.key --client-ca ca.crt --upstream http://127.0.0.1:8080', '')
      .example('$0 serve --dev', 'newcomer mode'),
  handler: async (a) => {
    const overrides: ConfigOverrides = {};
    if (a.listen !== undefined) overrides.listen = a.listen;
    if (a.cert !== undefined) overrides.cert = a.cert;
    if (a.key !== undefined) overrides.key = a.key;
    if (a['client-ca'] !== undefined) overrides.clientCA = a['client-ca'];
    if (a.crl !== undefined) overrides.crl = a.crl;
    if (a.upstream !== undefined) overrides.upstream = a.upstream;
    if (a['metrics-listen'] !== undefined) overrides.metricsListen = a['metrics-listen'] === 'off' ? false : a['metrics-listen'];
    const workers = parseWorkers(a.workers);
    if (workers !== undefined) overrides.workers = workers;
    else if (a.config === undefined) overrides.workers = 1; // quick-start: one process unless asked
    if (a['log-level'] !== undefined) overrides.logLevel = a['log-level'];
    if (a['insecure-plaintext-upstream']) overrides.insecurePlaintextUpstream = true;
    const allow: IdentityRule = {};
    if (a['allow-cn']) allow.cn = a['allow-cn'];
    if (a['allow-ou']) allow.ou = a['allow-ou'];
    if (a['allow-uri']) allow.uri = a['allow-uri'];
    if (a['allow-dns']) allow.dns = a['allow-dns'];
    if (Object.keys(allow).length > 0) overrides.allow = allow;
    if (a.config === undefined && !a.dev && (a.cert === undefined || a.key === undefined || a['client-ca'] === undefined || a.upstream === undefined)) {
      throw new ZtpError('ZTP_USAGE', 'serve needs --config FILE, or --cert, --key, --client-ca and --upstream (or --dev)');
    }
    return serve({ ...(a.config !== undefined ? { config: a.config } : {}), overrides, dev: a.dev, check: a.check });
  },
});
