import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** statemachine/purge.asl.json, relative to this file. */
export const DEFAULT_DEFINITION_PATH = join(__dirname, '..', '..', 'statemachine', 'purge.asl.json');

/** The `${Name}` placeholders a definition expects from DefinitionSubstitutions. */
export function placeholders(definition: string): Set<string> {
  return new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1]));
}

/**
 * Reads a definition and checks it against the substitutions the stack provides: every
 * placeholder must have a value and every value must be used. Step Functions would otherwise
 * deploy a definition whose Resource is the literal text `${Name}`, failing only at run time.
 */
export function loadDefinition(path: string, substitutionNames: readonly string[]): string {
  const text = readFileSync(path, 'utf8');
  try {
    JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const expected = placeholders(text);
  const provided = new Set(substitutionNames);
  const missing = [...expected].filter((name) => !provided.has(name));
  const unused = [...provided].filter((name) => !expected.has(name));
  if (missing.length > 0 || unused.length > 0) {
    throw new Error(
      `${path} and the stack disagree on DefinitionSubstitutions: ` +
        `placeholders without a value: [${missing.join(', ')}]; values without a placeholder: [${unused.join(', ')}]`,
    );
  }
  return text;
}
