import { parseDocument } from 'yaml';
import { ZtpError, type ErrorCode } from './errors.js';

/**
 * Aliases one document may expand: enough for any hand-written file, and an
 * alias bomb ("billion laughs") stops here instead of exhausting memory.
 */
const MAX_ALIAS_COUNT = 50;

/**
 * Parses YAML strictly: duplicate keys, syntax errors, unresolved aliases
 * (also under a merge key, `<<: *missing`) and alias bombs all throw a
 * ZtpError with `code`, its message starting with `source` (the file, or
 * what the text is). An empty document is `{}`.
 */
export function parseStrictYaml(text: string, source: string, code: ErrorCode): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    const msg = doc.errors.map((e) => e.message.split('\n')[0]).join('; ');
    throw new ZtpError(code, `${source}: not valid YAML: ${msg}`);
  }
  try {
    return (doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown) ?? {};
  } catch (cause) {
    // Found by test/fuzz: an unresolved alias under a merge key or an alias bomb throws here (a ReferenceError),
    // not in doc.errors.
    throw new ZtpError(code, `${source}: not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
}
