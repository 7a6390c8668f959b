import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { DEFAULT_DEFINITION_PATH } from '../lib/definition';
import { readJson } from './support';

const VALIDATOR = join(__dirname, '..', 'node_modules', 'asl-validator', 'dist', 'bin', 'asl-validator.js');

/** Runs asl-validator as scripts/test.sh does. */
function validate(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [VALIDATOR, ...args], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** purge.asl.json with one change, written to a temp file. */
function brokenCopy(change: (definition: { StartAt: string; States: Record<string, Record<string, unknown>> }) => void): string {
  const definition = readJson(DEFAULT_DEFINITION_PATH) as { StartAt: string; States: Record<string, Record<string, unknown>> };
  change(definition);
  const path = join(mkdtempSync(join(tmpdir(), 'purgeflow-asl-')), 'broken.asl.json');
  writeFileSync(path, JSON.stringify(definition));
  return path;
}

describe('asl-validator --json-path', () => {
  it('accepts statemachine/purge.asl.json', () => {
    const { status, output } = validate('--json-path', DEFAULT_DEFINITION_PATH);
    assert.equal(status, 0, output);
    assert.match(output, /is valid/);
  });

  it('rejects a StartAt naming no state', () => {
    const path = brokenCopy((definition) => {
      definition.StartAt = 'NoSuchState';
    });
    const { status, output } = validate('--json-path', path);
    assert.equal(status, 1, output);
    assert.match(output, /MISSING_TRANSITION_TARGET/);
  });

  it('rejects a Task without a Resource', () => {
    const path = brokenCopy((definition) => {
      delete definition.States[definition.StartAt].Resource;
    });
    const { status, output } = validate('--json-path', path);
    assert.equal(status, 1, output);
    assert.match(output, /is invalid/);
  });

  it('--json-definition given a path exits 0 without validating: why test.sh uses --json-path', () => {
    const path = brokenCopy((definition) => {
      definition.StartAt = 'NoSuchState';
    });
    const { status, output } = validate('--json-definition', path);
    assert.equal(status, 0, 'if asl-validator starts failing here, the pitfall is fixed; keep --json-path anyway');
    assert.match(output, /Unable to parse JSON definition/);
  });
});
