/**
 * Schema validation with messages that name the key path, what was expected
 * and what was found: `routes[2].allow.ou: expected array of strings, got
 * string "dev"`. All problems are reported at once. Used by every document
 * ztproxy reads (config, host inventory), so they all speak alike.
 */
import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { Problem } from './validation-error.js';

/**
 * Fills `schema`'s defaults into `value` (in place: pass a copy) and checks
 * it. `problems` is empty when `value` is valid, and then `value` has the
 * schema's type with every default present; the defaults live in the schema only.
 */
export function checkSchema<S extends TSchema>(schema: S, value: unknown): { value: Static<S>; problems: Problem[] } {
  const withDefaults = Value.Default(schema, value) as Static<S>;
  return { value: withDefaults, problems: schemaProblems(schema, withDefaults) };
}

/** `/routes/0/allow` → `routes[0].allow` */
function keyPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(top level)' : out;
}

/** A short human description of what `schema` accepts. */
function expected(schema: TSchema): string {
  const s = schema as TSchema & Record<string, unknown>;
  switch (s[Kind]) {
    case 'Literal':
      return JSON.stringify(s.const);
    case 'String':
      return s.pattern === '^/' ? 'a string starting with "/"' : s.pattern ? `string matching ${String(s.pattern)}` : 'non-empty string';
    case 'Integer':
    case 'Number':
      return `integer from ${String(s.minimum)} to ${String(s.maximum)}`;
    case 'Boolean':
      return 'true or false';
    case 'Array':
      return `array of ${plural(expected(s.items as TSchema))}`;
    case 'Object':
      return 'a mapping';
    case 'Union':
      return (s.anyOf as TSchema[]).map(expected).join(' or ');
    default:
      return String(s[Kind] ?? 'value').toLowerCase();
  }
}

function plural(what: string): string {
  if (what === 'non-empty string') return 'strings';
  if (what === 'a mapping') return 'mappings';
  return what;
}

/** What a value is, for messages: `string "dev"`, `number 5`, `a list`. */
function found(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 57)}..."` : text}`;
}

/** Every problem of `value` against `schema`; empty when it is valid. */
export function schemaProblems(schema: TSchema, value: unknown, basePointer = ''): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const err of Value.Errors(schema, value)) {
    for (const p of explain(err, basePointer)) {
      const id = `${p.path}\0${p.unknownKey}`;
      if (seen.has(id)) continue;
      // An error under a path already reported (e.g. union branches) adds nothing.
      seen.add(id);
      problems.push(p);
    }
  }
  return problems;
}

function explain(err: ValueError, base: string): Problem[] {
  const pointer = base + err.path;
  if (err.type === ValueErrorType.ObjectAdditionalProperties) {
    // TypeBox reports each unknown key at its own path; the schema is the parent object's.
    const allowed = Object.keys((err.schema as { properties?: object }).properties ?? {});
    return [{ path: keyPath(pointer), message: `unknown key (expected one of: ${allowed.join(', ')})`, unknownKey: true }];
  }
  if (err.type === ValueErrorType.ObjectRequiredProperty) {
    return [{ path: keyPath(pointer), message: `missing (expected ${expected(err.schema)})`, }];
  }
  if (err.type === ValueErrorType.Union) {
    // Report inside the branch that has the value's shape, so that a typo in
    // `upstream: { urll: … }` names `upstream.urll`, not just `upstream`.
    const branches = (err.schema as unknown as { anyOf: TSchema[] }).anyOf;
    const v = err.value;
    const branch = branches.find((b) =>
      (b[Kind] === 'Object' && v !== null && typeof v === 'object' && !Array.isArray(v)) || (b[Kind] === 'Array' && Array.isArray(v)),
    );
    if (branch) return schemaProblems(branch, v, pointer);
  }
  return [{ path: keyPath(pointer), message: `expected ${expected(err.schema)}, got ${found(err.value)}`, }];
}
