import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ZtpError } from '../errors.js';
import type { Inventory } from './schema.js';
import { validateInventory } from './validate-inventory.js';

/**
 * Parses inventory YAML text (`source` names it in messages) and validates it.
 * Throws `ZTP_HOSTS_INVALID` on a YAML syntax error or any schema or
 * cross-field problem (see {@link validateInventory}).
 */
export function parseInventory(text: string, source: string): Inventory {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const first = doc.errors[0]!;
    throw new ZtpError('ZTP_HOSTS_INVALID', `inventory ${source}: YAML syntax error: ${first.message.split('\n')[0]}`, { cause: first });
  }
  return validateInventory(doc.toJS(), source);
}

/**
 * Reads and validates the inventory at `path`. Throws `ZTP_HOSTS_READ` when
 * the file cannot be read and `ZTP_HOSTS_INVALID` when it is not a valid
 * inventory. The result is deep-frozen with every default filled in.
 */
export async function loadInventory(path: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ZtpError('ZTP_HOSTS_READ', `reading inventory ${path}`, { cause });
  }
  return parseInventory(text, path);
}
