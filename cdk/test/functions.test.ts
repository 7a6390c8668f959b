import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FUNCTION_NAMES } from '../lib/rust-function';
import { EXISTING_STREAM_ARN, logicalId, templateOf } from './support';

describe('the six Lambdas', () => {
  const { stack, template } = templateOf();
  const functions = template.findResources('AWS::Lambda::Function');
  const byBinary = (binary: (typeof FUNCTION_NAMES)[number]) =>
    functions[logicalId(stack, stack.functions[binary].function)];

  it('are exactly the six binaries, provided.al2023 on arm64 with bootstrap as handler', () => {
    assert.equal(Object.keys(functions).length, FUNCTION_NAMES.length);
    for (const binary of FUNCTION_NAMES) {
      const props = byBinary(binary).Properties;
      assert.equal(props.Runtime, 'provided.al2023', binary);
      assert.deepEqual(props.Architectures, ['arm64'], binary);
      assert.equal(props.Handler, 'bootstrap', binary);
      assert.deepEqual(props.TracingConfig, { Mode: 'Active' }, binary);
    }
  });

  it('each has a role of its own and an encrypted log group with retention', () => {
    const roles = new Set(FUNCTION_NAMES.map((binary) => JSON.stringify(byBinary(binary).Properties.Role)));
    assert.equal(roles.size, FUNCTION_NAMES.length);
    for (const binary of FUNCTION_NAMES) {
      const logGroupId = byBinary(binary).Properties.LoggingConfig.LogGroup.Ref as string;
      const logGroup = template.findResources('AWS::Logs::LogGroup')[logGroupId];
      assert.ok(logGroup.Properties.KmsKeyId, `${binary}'s log group is encrypted`);
      assert.equal(logGroup.Properties.RetentionInDays, 90, binary);
    }
  });

  it('get the shared PURGE_* settings, defaults written out', () => {
    for (const binary of FUNCTION_NAMES) {
      const environment = byBinary(binary).Properties.Environment.Variables;
      assert.equal(environment.PURGE_KEY_TEMPLATE, '{image_key}', binary);
      assert.equal(environment.PURGE_KEY_PREFIX, 'images/', binary);
      assert.equal(environment.PURGE_PATH_TEMPLATES, '/{key}', binary);
      assert.equal(environment.PURGE_TTL_DELETES, 'purge', binary);
      assert.equal(environment.PURGE_CHECK_SUPERSEDED, 'true', binary);
      assert.equal(environment.PURGE_VERSIONS, 'marker', binary);
      assert.equal(environment.PURGE_MAX_RECORDS_PER_EXECUTION, '500', binary);
    }
  });

  it('get the resource variables each binary requires at init (tasks/src/bin/*.rs)', () => {
    const env = (binary: (typeof FUNCTION_NAMES)[number]) => byBinary(binary).Properties.Environment.Variables;
    assert.deepEqual(env('purge-trigger').PURGE_STATE_MACHINE_ARN, { Ref: logicalId(stack, stack.stateMachine) });
    assert.deepEqual(env('validate-records').PURGE_BUCKET, { Ref: logicalId(stack, stack.bucket) });
    assert.deepEqual(env('validate-records').PURGE_TABLE_NAME, { Ref: logicalId(stack, stack.table) });
    assert.deepEqual(env('batch-paths').PURGE_DISTRIBUTION_ID, { Ref: logicalId(stack, stack.distribution) });
    assert.deepEqual(env('report-failures').PURGE_TOPIC_ARN, { Ref: logicalId(stack, stack.failureTopic) });
  });

  it('pass settings props through to the environment', () => {
    const { stack: custom, template: customTemplate } = templateOf({
      keyTemplate: '{photo_id}.{type|subtype}',
      keyPrefix: '',
      pathTemplates: ['/{key}', '/thumbs/{key}'],
      ttlDeletes: 'ignore',
      checkSuperseded: false,
      versions: 'all',
      maxRecordsPerExecution: 200,
      tableStreamArn: EXISTING_STREAM_ARN,
    });
    const fn = customTemplate.findResources('AWS::Lambda::Function')[
      logicalId(custom, custom.functions['validate-records'].function)
    ];
    const environment = fn.Properties.Environment.Variables;
    assert.equal(environment.PURGE_KEY_TEMPLATE, '{photo_id}.{type|subtype}');
    assert.equal(environment.PURGE_KEY_PREFIX, undefined, 'an empty prefix is left unset');
    assert.equal(environment.PURGE_PATH_TEMPLATES, '/{key},/thumbs/{key}');
    assert.equal(environment.PURGE_TTL_DELETES, 'ignore');
    assert.equal(environment.PURGE_CHECK_SUPERSEDED, 'false');
    assert.equal(environment.PURGE_VERSIONS, 'all');
    assert.equal(environment.PURGE_MAX_RECORDS_PER_EXECUTION, '200');
    assert.equal(environment.PURGE_TABLE_NAME, undefined, 'no table name without the supersede check');
  });

  it('refuse an asset directory without the binaries, naming the packaging script', () => {
    assert.throws(() => templateOf({ lambdaAssetDir: '/nonexistent/target/lambda' }), /package-lambdas\.sh/);
  });
});
