/**
 * Leaf helpers every layer may use: atomic file writes and the store lock,
 * durations, and the one strict YAML + schema pipeline behind every document
 * ztproxy reads (config, host inventory).
 */
export { writeFileAtomic, withDirLock } from './atomic-file.js';
export { parseDurationSeconds } from './duration.js';
export { parseStrictYaml } from './strict-yaml.js';
export { checkSchema, schemaProblems } from './schema-problems.js';
export { ValidationError, type Problem } from './validation-error.js';
