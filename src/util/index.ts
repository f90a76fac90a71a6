/**
 * Leaf helpers every layer may use: the error contract (ZtpError and the code
 * registry mirrored in docs/errors.md), atomic file writes and the store lock,
 * durations, the one strict YAML + schema pipeline behind every document
 * ztproxy reads (config, host inventory), and the supported Node lines.
 */
export { writeFileAtomic, withDirLock } from './atomic-file.js';
export { parseDurationSeconds } from './duration.js';
export { parseStrictYaml } from './strict-yaml.js';
export { checkSchema, schemaProblems } from './schema-problems.js';
export { ValidationError, type Problem } from './validation-error.js';
export { EXIT, ZtpError, asZtpError, describeError, isZtpError, type ErrorCode } from './errors.js';
export { RECOMMENDED_NODE, nodeLineStatus, versionText } from './node-support.js';
