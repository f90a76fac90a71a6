import { formatPolicyTest, policyTest, readCertFile } from '../proxy/index.js';
import { loadConfig } from '../config/index.js';
import { EXIT, ZtpError } from '../util/index.js';
import { command, group } from './command.js';

/** `Name: value` flags → flat header list. */
function parseHeaders(list: string[] | undefined): string[] {
  const out: string[] = [];
  for (const h of list ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new ZtpError('ZTP_USAGE', `--header: expected "Name: value", got ${JSON.stringify(h)}`);
    out.push(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
  }
  return out;
}

const testCommand = command({
  command: 'test',
  describe: 'show which route and rule decide a request from a certificate, and the headers the upstream would get (no traffic sent); exit 0 when forwarded, 1 when refused',
  builder: (y) =>
    y
      .options({
        config: { type: 'string', demandOption: true, describe: 'ztproxy YAML config' },
        cert: { type: 'string', demandOption: true, describe: 'client certificate, PEM (leaf first) or DER' },
        url: { type: 'string', demandOption: true, describe: 'request URL, https://host/path' },
        sni: { type: 'string', describe: 'TLS server name the client sends (default: the URL host)' },
        header: { type: 'string', array: true, describe: 'extra request header "Name: value" (repeatable)' },
        json: { type: 'boolean', default: false, describe: 'print the result as JSON' },
      })
      .example('$0 policy test --config /etc/ztproxy/ztproxy.yaml --cert alice.crt --url https://api.internal/admin', ''),
  handler: async (a) => {
    const config = await loadConfig(a.config);
    const result = policyTest({ config, cert: await readCertFile(a.cert), url: a.url, ...(a.sni !== undefined ? { sni: a.sni } : {}), headers: parseHeaders(a.header) });
    if (a.json) {
      const { identity, ...rest } = result;
      const { der: _der, chainDer: _chain, ...id } = identity;
      process.stdout.write(JSON.stringify({ ...rest, identity: id }, null, 2) + '\n');
    } else process.stdout.write(formatPolicyTest(result));
    return result.outcome === 'forward' ? EXIT.ok : EXIT.runtime;
  },
});

/** `ztproxy policy`: check identity policies offline. */
export const policyCommand = group({
  command: 'policy',
  describe: 'check identity policies without sending traffic',
  commands: [testCommand],
  demand: 'name a policy subcommand: test',
});
