export { loadConfig, resolveConfig, parseYaml, parseHostPort, isLoopbackHost } from './load.js';
export type { ResolvedConfig, ResolvedRoute, ResolvedUpstream, ConfigOverrides, HostPort, IdentityHeaderNames } from './load.js';
export { ConfigSchema, DEFAULT_GROUPS } from './schema.js';
export type { Config, IdentityRule } from './schema.js';
export { groupOffered, groupProblems, cipherListProblems } from './openssl-names.js';
