import { readFile } from 'node:fs/promises';
import { ZtpError } from '../util/index.js';
import { parseStrictYaml } from '../util/index.js';
import type { Inventory } from './schema.js';
import { validateInventory } from './validate-inventory.js';

/**
 * Parses inventory YAML text (`source` names it in messages) and validates it.
 * Throws `ZTP_HOSTS_INVALID` when the text is not strict YAML (syntax errors,
 * duplicate keys, unresolved aliases, alias bombs: the same parser as the
 * config) or on any schema or cross-field problem (see {@link validateInventory}).
 */
export function parseInventory(text: string, source: string): Inventory {
  return validateInventory(parseStrictYaml(text, `inventory ${source}`, 'ZTP_HOSTS_INVALID'), source);
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
