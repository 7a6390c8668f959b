import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { Duration } from 'aws-cdk-lib';

import { propsFromContext } from '../lib/context';
import { DEFAULT_DEFINITION_PATH, loadDefinition, placeholders } from '../lib/definition';
import { tableNameFromStreamArn } from '../lib/purgeflow-stack';
import { resolveSettings, SettingsError, settingsEnvironment } from '../lib/settings';
import { EXISTING_STREAM_ARN, templateOf } from './support';

describe('settings', () => {
  it('apply the defaults of tasks/src/config.rs', () => {
    assert.deepEqual(resolveSettings({ keyTemplate: '{image_key}' }), {
      keyTemplate: '{image_key}',
      keyPrefix: '',
      pathTemplates: ['/{key}'],
      ttlDeletes: 'purge',
      checkSuperseded: true,
      versions: 'marker',
      maxRecordsPerExecution: 500,
      pressureMaxLevel: 3,
      pressureAllowRoot: false,
      allowUnsignedInputs: false,
    });
  });

  it('render every PURGE_* variable, leaving an empty prefix unset', () => {
    const environment = settingsEnvironment(resolveSettings({ keyTemplate: '{a}', pathTemplates: ['/{key}', '/x/{key}'] }));
    assert.deepEqual(environment, {
      PURGE_KEY_TEMPLATE: '{a}',
      PURGE_PATH_TEMPLATES: '/{key},/x/{key}',
      PURGE_TTL_DELETES: 'purge',
      PURGE_CHECK_SUPERSEDED: 'true',
      PURGE_VERSIONS: 'marker',
      PURGE_MAX_RECORDS_PER_EXECUTION: '500',
      PURGE_PRESSURE_MAX_LEVEL: '3',
      PURGE_PRESSURE_ALLOW_ROOT: 'false',
      PURGE_ALLOW_UNSIGNED_INPUTS: 'false',
    });
  });

  const refused: [string, Parameters<typeof resolveSettings>[0], RegExp][] = [
    ['a template naming no attribute', { keyTemplate: 'static.jpg' }, /keyTemplate/],
    ['a prefix with an IAM wildcard', { keyTemplate: '{a}', keyPrefix: 'images/*' }, /keyPrefix/],
    ['a prefix with ..', { keyTemplate: '{a}', keyPrefix: '../' }, /keyPrefix/],
    ['a prefix with a leading slash', { keyTemplate: '{a}', keyPrefix: '/images/' }, /keyPrefix/],
    ['a prefix without a trailing slash', { keyTemplate: '{a}', keyPrefix: 'images' }, /keyPrefix "images" is invalid; expected a prefix that ends with "\/", such as "images\/"/],
    ['a prefix with an empty segment', { keyTemplate: '{a}', keyPrefix: 'images//' }, /keyPrefix/],
    ['a prefix with a . segment', { keyTemplate: '{a}', keyPrefix: 'a/./' }, /keyPrefix/],
    ['a percent-encoded prefix', { keyTemplate: '{a}', keyPrefix: '%2e%2e/' }, /keyPrefix/],
    ['a path template with a wildcard', { keyTemplate: '{a}', pathTemplates: ['/{key}*'] }, /pathTemplates/],
    ['a path template with a query', { keyTemplate: '{a}', pathTemplates: ['/{key}?v=1'] }, /pathTemplates/],
    ['a path template with a fragment', { keyTemplate: '{a}', pathTemplates: ['/{key}#x'] }, /pathTemplates/],
    ['no path template', { keyTemplate: '{a}', pathTemplates: [] }, /pathTemplates/],
    ['a path template without a leading slash', { keyTemplate: '{a}', pathTemplates: ['{key}'] }, /pathTemplates/],
    ['a path template with a comma', { keyTemplate: '{a}', pathTemplates: ['/a,/b'] }, /pathTemplates/],
    ['an unknown TTL policy', { keyTemplate: '{a}', ttlDeletes: 'skip' as never }, /ttlDeletes/],
    ['an unknown versions policy', { keyTemplate: '{a}', versions: 'newest' as never }, /versions/],
    ['zero records per execution', { keyTemplate: '{a}', maxRecordsPerExecution: 0 }, /maxRecordsPerExecution/],
    ['more records than a stream batch', { keyTemplate: '{a}', maxRecordsPerExecution: 10_001 }, /maxRecordsPerExecution/],
    ['a fractional record count', { keyTemplate: '{a}', maxRecordsPerExecution: 1.5 }, /maxRecordsPerExecution/],
    ['a pressure level past the highest', { keyTemplate: '{a}', pressureMaxLevel: 7 }, /pressureMaxLevel/],
    ['a negative pressure level', { keyTemplate: '{a}', pressureMaxLevel: -1 }, /pressureMaxLevel/],
  ];
  for (const [what, settings, message] of refused) {
    it(`refuse ${what}`, () => {
      assert.throws(() => resolveSettings(settings), (error: Error) => error instanceof SettingsError && message.test(error.message));
    });
  }
});

describe('existing table props', () => {
  it('read the table name from the stream ARN', () => {
    assert.equal(tableNameFromStreamArn(EXISTING_STREAM_ARN), 'photos');
    assert.throws(() => tableNameFromStreamArn('arn:aws:dynamodb:eu-west-1:123456789012:table/photos'), /tableStreamArn/);
  });

  it('refuse a name alone, and a name that contradicts the stream ARN', () => {
    assert.throws(() => templateOf({ tableName: 'photos' }), /needs the stream's ARN/);
    assert.throws(() => templateOf({ tableName: 'other', tableStreamArn: EXISTING_STREAM_ARN }), /does not match/);
  });
});

describe('context', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('map -c keys to props, with lists, numbers and durations parsed', () => {
    const props = propsFromContext(
      context({
        lambdaAssetDir: '../target/lambda',
        keyTemplate: '{image_key}',
        pathTemplates: '/{key},/thumbs/{key}',
        checkSuperseded: 'false',
        maxRecordsPerExecution: '100',
        streamBatchingWindowSeconds: '10',
        distributionId: 'E2QWRUHEXAMPLE',
        skipDirectBacklog: '0',
      }),
    );
    assert.equal(props.lambdaAssetDir, '../target/lambda');
    assert.equal(props.skipDirectBacklog, 0);
    assert.deepEqual(props.pathTemplates, ['/{key}', '/thumbs/{key}']);
    assert.equal(props.checkSuperseded, false);
    assert.equal(props.maxRecordsPerExecution, 100);
    assert.equal(props.stream?.maxBatchingWindow?.toSeconds(), Duration.seconds(10).toSeconds());
    assert.equal(props.distributionId, 'E2QWRUHEXAMPLE');
    assert.equal(props.bucketName, undefined);
  });

  it('name the missing required key and the malformed ones', () => {
    assert.throws(() => propsFromContext(context({ keyTemplate: '{a}' })), /lambdaAssetDir is required/);
    assert.throws(() => propsFromContext(context({ lambdaAssetDir: 'x' })), /keyTemplate is required/);
    const base = { lambdaAssetDir: 'x', keyTemplate: '{a}' };
    assert.throws(() => propsFromContext(context({ ...base, streamBatchSize: 'ten' })), /streamBatchSize=ten must be a whole number/);
    assert.throws(() => propsFromContext(context({ ...base, checkSuperseded: 'yes' })), /true or false/);
    assert.throws(() => propsFromContext(context({ ...base, keyPrefix: { nested: true } })), /must be a string/);
  });
});

describe('the definition loader', () => {
  const names = [...placeholders(`x \${A} y \${B_1} \${A}`)].sort();

  it('finds each ${Name} placeholder once', () => {
    assert.deepEqual(names, ['A', 'B_1']);
  });

  it('accepts purge.asl.json with the five function ARNs and the deferral queue URL', () => {
    const text = loadDefinition(DEFAULT_DEFINITION_PATH, [
      'ValidateRecordsFunctionArn',
      'DeleteObjectsFunctionArn',
      'BatchPathsFunctionArn',
      'InvalidateCacheFunctionArn',
      'ReportFailuresFunctionArn',
      'DeferralQueueUrl',
    ]);
    assert.equal(JSON.parse(text).QueryLanguage, 'JSONata');
  });

  it('refuses placeholders without a value, values without a placeholder, and invalid JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'purgeflow-definition-'));
    const path = join(dir, 'machine.json');
    writeFileSync(path, JSON.stringify({ Resource: '${Missing}' }));
    assert.throws(() => loadDefinition(path, ['Unused']), /without a value: \[Missing\].*without a placeholder: \[Unused\]/);
    writeFileSync(path, '{"StartAt": ');
    assert.throws(() => loadDefinition(path, []), /not valid JSON/);
  });
});
