/**
 * The inventory schema: the single source of the inventory's shape, its
 * defaults and the TypeScript types. Cross-field checks (addresses inside the
 * subnet, known roles in rules, reachability) live in validate-inventory.ts.
 *
 * Every object is closed (`additionalProperties: false`): a typo such as
 * `prot: udp` must be an error naming the key, never a silently ignored rule.
 */
import { Type, type Static, type TInteger } from '@sinclair/typebox';

/** The roles a host can have. Rules name them; `any`/`all`/`admins` are selectors. */
export const ROLES = ['proxy', 'app', 'db', 'bastion'] as const;
export type Role = (typeof ROLES)[number];

const closed = { additionalProperties: false } as const;
const port = (description: string, dflt?: number): TInteger =>
  Type.Integer({ minimum: 1, maximum: 65535, description, ...(dflt === undefined ? {} : { default: dflt }) });

const Network = Type.Object(
  {
    /** WireGuard overlay subnet. Default `10.100.0.0/24` (the seeds' mesh). */
    subnet: Type.String({ default: '10.100.0.0/24' }),
    /** UDP port WireGuard listens on, on every host unless a host overrides it. Default 51820. */
    listenPort: port('WireGuard UDP port', 51820),
    /** MTU of wg0. Default 1420 (WireGuard's own default for a 1500-byte underlay). */
    mtu: Type.Integer({ minimum: 1280, maximum: 9000, default: 1420 }),
  },
  { ...closed, default: {} },
);

const Firewall = Type.Object(
  {
    /** Policy of the output chain. Default `accept`; `drop` admits only the inventory's flows. */
    outputPolicy: Type.Union([Type.Literal('accept'), Type.Literal('drop')], { default: 'accept' }),
  },
  { ...closed, default: {} },
);

const Ssh = Type.Object(
  {
    /** Port sshd listens on; rules to this tcp port make a host "SSH-reachable". Default 22. */
    port: port('sshd port', 22),
    /** OpenSSH user CA public key (`ztproxy ssh-ca`). Default `/etc/ssh/user_ca.pub`. */
    userCAKeys: Type.String({ minLength: 1, default: '/etc/ssh/user_ca.pub' }),
    /** OpenSSH KRL or revoked-keys file. Default `/etc/ssh/revoked_keys`. */
    revokedKeys: Type.String({ minLength: 1, default: '/etc/ssh/revoked_keys' }),
    /** Directory of per-user principals files (`%u`). Default `/etc/ssh/auth_principals`. */
    principalsDir: Type.String({ minLength: 1, default: '/etc/ssh/auth_principals' }),
    /** Default `publickey`; the 2023 seed's "paranoid" variant adds keyboard-interactive (PAM 2FA). */
    authenticationMethods: Type.Union([Type.Literal('publickey'), Type.Literal('publickey,keyboard-interactive')], {
      default: 'publickey',
    }),
    /** Also accept plain keys from ~/.ssh/authorized_keys. Default false: certificates only. */
    allowAuthorizedKeys: Type.Boolean({ default: false }),
    /**
     * Per role (or `all`): local user → certificate principals allowed to log in as that user.
     * Default `{}`: no principals files, so no certificate logs in anywhere.
     */
    principals: Type.Record(Type.String(), Type.Record(Type.String(), Type.Array(Type.String())), { default: {} }),
  },
  { ...closed, default: {} },
);

const Ztproxy = Type.Object(
  {
    /** Directory of the proxy's TLS material on proxy hosts. Default `/etc/ztproxy`. */
    dir: Type.String({ minLength: 1, default: '/etc/ztproxy' }),
  },
  { ...closed, default: {} },
);

const Host = Type.Object(
  {
    /** Host name: a DNS label, also the output directory name. */
    name: Type.String(),
    /** One of {@link ROLES}. */
    role: Type.String(),
    /** WireGuard address inside `network.subnet`: `10.100.0.2` or `10.100.0.2/24`. */
    address: Type.String(),
    /** Public WireGuard endpoint `host:port` (IPv4, `[IPv6]` or DNS name). Optional (roaming/NATed hosts). */
    endpoint: Type.Optional(Type.String()),
    /** This host's WireGuard UDP port. Default `network.listenPort`. */
    listenPort: Type.Optional(port('WireGuard UDP port')),
    /** Keepalive this host sends to peers that have an endpoint (for hosts behind NAT). Default none. */
    persistentKeepaliveSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  },
  closed,
);

const Admin = Type.Object(
  {
    /** Admin workstation name (a DNS label). */
    name: Type.String(),
    /** The workstation's WireGuard address inside `network.subnet`. */
    address: Type.String(),
    /** Its WireGuard public key (base64, 32 bytes): the private key never leaves the workstation. */
    publicKey: Type.String(),
    /** Optional fixed endpoint `host:port`. */
    endpoint: Type.Optional(Type.String()),
  },
  closed,
);

/**
 * The route prefix of a proxy → app rule without `pathPrefix`. Not a schema
 * `default`: only those rules may carry the key at all.
 */
export const DEFAULT_PATH_PREFIX = '/';

const Rule = Type.Object(
  {
    /** Source: a role, `admins` (the admin workstations) or `any` (any mesh member; the only source of public rules). */
    from: Type.String(),
    /** Destination: a role or `all` (every host). */
    to: Type.String(),
    port: port('destination port'),
    /** Default `tcp`. */
    proto: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
    /** `wg` (default): over wg0 only, from the sources' wg addresses. `public`: on every non-wg interface. */
    via: Type.Union([Type.Literal('wg'), Type.Literal('public')], { default: 'wg' }),
    /** proxy → app rules only: the ztproxy route's path prefix. Default {@link DEFAULT_PATH_PREFIX}. */
    pathPrefix: Type.Optional(Type.String()),
  },
  closed,
);

export const InventorySchema = Type.Object(
  {
    network: Network,
    firewall: Firewall,
    ssh: Ssh,
    ztproxy: Ztproxy,
    hosts: Type.Array(Host, { minItems: 1 }),
    admins: Type.Array(Admin, { default: [] }),
    rules: Type.Array(Rule, { minItems: 1 }),
  },
  closed,
);

/** A schema-valid inventory with every default filled in (see docs/hosts.md). */
export type Inventory = Static<typeof InventorySchema>;
export type InventoryHost = Static<typeof Host>;
export type InventoryAdmin = Static<typeof Admin>;
export type InventoryRule = Static<typeof Rule>;
