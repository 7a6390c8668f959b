import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Template } from 'aws-cdk-lib/assertions';

import { FUNCTION_NAMES } from '../lib/rust-function';
import { actionsOf, EXISTING_STREAM_ARN, identityStatements, logicalId, type OwnedStatement, templateOf } from './support';

/**
 * The only actions allowed on Resource "*", because AWS offers no narrower resource for them.
 * Each is named here, with why, so a new "*" fails the test until it is reviewed and listed.
 */
const STAR_RESOURCE_EXCEPTIONS: Record<string, string> = {
  // X-Ray has no resource-level permissions (Lambda active tracing, state machine tracing).
  'xray:PutTraceSegments': 'X-Ray',
  'xray:PutTelemetryRecords': 'X-Ray',
  'xray:GetSamplingRules': 'X-Ray',
  'xray:GetSamplingTargets': 'X-Ray',
  // Step Functions' logging goes through CloudWatch Logs vended delivery, whose actions are
  // authorised on "*" only (Step Functions developer guide, "IAM policies for logging").
  'logs:CreateLogDelivery': 'logs delivery',
  'logs:GetLogDelivery': 'logs delivery',
  'logs:UpdateLogDelivery': 'logs delivery',
  'logs:DeleteLogDelivery': 'logs delivery',
  'logs:ListLogDeliveries': 'logs delivery',
  'logs:PutResourcePolicy': 'logs delivery',
  'logs:DescribeResourcePolicies': 'logs delivery',
  'logs:DescribeLogGroups': 'logs delivery',
};

/** Actions allowed a wildcard *inside* an ARN: keys under the configured prefix, an open set. */
const OBJECT_PREFIX_ACTIONS = new Set(['s3:DeleteObject', 's3:DeleteObjectVersion']);

function joined(resource: unknown): string {
  // Renders Fn::Join and tokens to a readable string; only literal parts can hold a wildcard.
  if (typeof resource === 'string') {
    return resource;
  }
  if (typeof resource === 'object' && resource !== null && 'Fn::Join' in resource) {
    const [separator, parts] = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(joined).join(separator);
  }
  return `<${JSON.stringify(resource)}>`;
}

function assertScoped(template: Template, prefix: string): OwnedStatement[] {
  const statements = identityStatements(template);
  assert.ok(statements.length > 0);
  for (const statement of statements) {
    for (const action of statement.actions) {
      assert.doesNotMatch(action, /\*/, `${statement.owner}: action ${action} is a wildcard`);
    }
    for (const resource of statement.resources) {
      const text = joined(resource);
      if (text === '*') {
        const unexplained = statement.actions.filter((action) => !(action in STAR_RESOURCE_EXCEPTIONS));
        assert.deepEqual(unexplained, [], `${statement.owner}: Resource "*" for actions AWS can scope`);
      } else if (text.includes('*')) {
        assert.ok(
          statement.actions.every((action) => OBJECT_PREFIX_ACTIONS.has(action)),
          `${statement.owner}: wildcard resource ${text} for ${statement.actions.join(', ')}`,
        );
        assert.ok(text.endsWith(`/${prefix}*`), `${statement.owner}: ${text} is not limited to the prefix ${prefix}`);
      }
    }
  }
  return statements;
}

describe('IAM', () => {
  const { stack, template } = templateOf();

  it('grants no wildcard action and no "*" resource beyond the named exceptions', () => {
    const statements = assertScoped(template, 'images/');
    // The exceptions are really used: X-Ray on every function and the state machine, logs delivery on the latter.
    const starActions = new Set(
      statements.filter((s) => s.resources.includes('*')).flatMap((s) => s.actions),
    );
    assert.ok(starActions.has('xray:PutTraceSegments'));
    assert.ok(starActions.has('logs:CreateLogDelivery'));
  });

  it('gives each function only what its code calls', () => {
    const common = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
    const expected: Record<(typeof FUNCTION_NAMES)[number], string[]> = {
      'purge-trigger': [
        'states:StartExecution',
        'sqs:SendMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
        'kms:GenerateMac',
      ],
      'validate-records': ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'kms:VerifyMac'],
      'delete-objects': ['s3:DeleteObject'],
      'batch-paths': [],
      // The backlog gate's GetQueueAttributes on the deferral queue (no KMS: it reads no message).
      'invalidate-cache': ['cloudfront:CreateInvalidation', 'sqs:GetQueueAttributes'],
      'report-failures': ['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:GenerateMac', 'kms:VerifyMac'],
      'dispatch-invalidations': [
        'cloudfront:CreateInvalidation',
        'cloudfront:GetInvalidation',
        'cloudfront:ListInvalidations',
        'sns:Publish',
        'kms:GenerateDataKey',
        'kms:Decrypt',
        'kms:GenerateMac',
        // The SQS event source mapping: receive and delete on the deferral queue, and its key;
        // ChangeMessageVisibility is also the dispatcher's own call (the short retry delay of
        // the messages it returns, dispatch/requeue.rs).
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueUrl',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'kms:Decrypt',
      ],
    };
    for (const binary of FUNCTION_NAMES) {
      assert.deepEqual(actionsOf(stack, template, binary).sort(), [...common, ...expected[binary]].sort(), binary);
    }
  });

  it('scopes each task permission to its one resource', () => {
    const statements = identityStatements(template);
    // Every statement granting `action` names the same one resource.
    const only = (action: string) => {
      const found = statements.filter((s) => s.actions.includes(action));
      assert.ok(found.length >= 1, action);
      for (const statement of found) {
        assert.deepEqual(statement.resources, found[0].resources, `${action} in ${statement.owner}`);
      }
      assert.equal(found[0].resources.length, 1, action);
      return found[0].resources;
    };
    assert.deepEqual(only('s3:DeleteObject').map(joined), [
      `<${JSON.stringify({ 'Fn::GetAtt': [logicalId(stack, stack.bucket), 'Arn'] })}>/images/*`,
    ]);
    assert.deepEqual(only('dynamodb:GetItem'), [{ 'Fn::GetAtt': [logicalId(stack, stack.table), 'Arn'] }]);
    assert.deepEqual(only('dynamodb:BatchGetItem'), [{ 'Fn::GetAtt': [logicalId(stack, stack.table), 'Arn'] }]);
    assert.deepEqual(only('sns:Publish'), [{ Ref: logicalId(stack, stack.failureTopic) }]);
    assert.deepEqual(only('kms:GenerateDataKey'), [{ 'Fn::GetAtt': [logicalId(stack, stack.key), 'Arn'] }]);
    assert.deepEqual(only('states:StartExecution'), [{ Ref: logicalId(stack, stack.stateMachine) }]);
    assert.match(joined(only('cloudfront:CreateInvalidation')[0]), /:cloudfront::123456789012:distribution\//);
    assert.deepEqual(only('dynamodb:GetRecords'), [{ 'Fn::GetAtt': [logicalId(stack, stack.table), 'StreamArn'] }]);
    // The MAC key, and only it, for signing and verifying.
    assert.deepEqual(only('kms:GenerateMac'), [{ 'Fn::GetAtt': [logicalId(stack, stack.macKey), 'Arn'] }]);
    assert.deepEqual(only('kms:VerifyMac'), [{ 'Fn::GetAtt': [logicalId(stack, stack.macKey), 'Arn'] }]);
  });

  it('creates the MAC key as HMAC_256 for GenerateMac/VerifyMac and names it to each signer and verifier', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const macKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.macKey), 'Arn'] };
    for (const binary of ['purge-trigger', 'validate-records', 'report-failures', 'dispatch-invalidations'] as const) {
      const fn = template.toJSON().Resources[logicalId(stack, stack.functions[binary].function)];
      assert.deepEqual(fn.Properties.Environment.Variables.PURGE_MAC_KEY_ID, macKeyArn, binary);
      assert.equal(fn.Properties.Environment.Variables.PURGE_ALLOW_UNSIGNED_INPUTS, 'false', binary);
    }
  });

  it('adds the version actions only with versions=all, limited to the prefix', () => {
    const { stack: all, template: allTemplate } = templateOf({ versions: 'all' });
    assertScoped(allTemplate, 'images/');
    assert.deepEqual(
      actionsOf(all, allTemplate, 'delete-objects').filter((a) => a.startsWith('s3:')).sort(),
      ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:ListBucketVersions'],
    );
    const list = identityStatements(allTemplate).find((s) => s.actions.includes('s3:ListBucketVersions'));
    assert.deepEqual(list?.resources, [{ 'Fn::GetAtt': [logicalId(all, all.bucket), 'Arn'] }]);
    assert.deepEqual(list?.conditions, { StringLike: { 's3:prefix': 'images/*' } });
    assert.ok(!actionsOf(stack, template, 'delete-objects').includes('s3:DeleteObjectVersion'));
  });

  it('drops the DynamoDB reads without the supersede check', () => {
    const { stack: unchecked, template: uncheckedTemplate } = templateOf({ checkSuperseded: false });
    const actions = actionsOf(unchecked, uncheckedTemplate, 'validate-records');
    assert.ok(!actions.includes('dynamodb:GetItem'), actions.join());
    assert.ok(!actions.includes('dynamodb:BatchGetItem'), actions.join());
  });

  it('scopes existing resources by their names', () => {
    const { template: existing } = templateOf({
      tableStreamArn: EXISTING_STREAM_ARN,
      bucketName: 'photos-bucket',
      distributionId: 'E2QWRUHEXAMPLE',
      keyPrefix: 'uploads/',
    });
    existing.resourceCountIs('AWS::S3::Bucket', 0);
    existing.resourceCountIs('AWS::CloudFront::Distribution', 0);
    existing.resourceCountIs('AWS::DynamoDB::Table', 0);
    const statements = assertScoped(existing, 'uploads/');
    const resourcesOf = (action: string) =>
      statements.filter((s) => s.actions.includes(action)).flatMap((s) => s.resources.map(joined));
    assert.deepEqual(resourcesOf('s3:DeleteObject'), ['arn:<{"Ref":"AWS::Partition"}>:s3:::photos-bucket/uploads/*']);
    // invalidate-cache and the dispatcher, both on the one distribution.
    assert.deepEqual(resourcesOf('cloudfront:CreateInvalidation'), [
      'arn:<{"Ref":"AWS::Partition"}>:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE',
      'arn:<{"Ref":"AWS::Partition"}>:cloudfront::123456789012:distribution/E2QWRUHEXAMPLE',
    ]);
    for (const read of ['dynamodb:BatchGetItem', 'dynamodb:GetItem']) {
      assert.deepEqual(resourcesOf(read), ['arn:<{"Ref":"AWS::Partition"}>:dynamodb:eu-west-1:123456789012:table/photos']);
    }
    assert.deepEqual(resourcesOf('dynamodb:GetRecords'), [EXISTING_STREAM_ARN]);
  });

  it('key policy: only the default account statement has a wildcard action', () => {
    const [key] = Object.values(template.findResources('AWS::KMS::Key'));
    for (const statement of key.Properties.KeyPolicy.Statement) {
      const actions: string[] = [statement.Action].flat();
      if (actions.includes('kms:*')) {
        // AWS's default key policy: it lets IAM policies of this account grant use of the key,
        // which is how each role above gets its narrow kms permissions.
        assert.deepEqual(statement.Principal, {
          AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:root']] },
        });
      } else {
        actions.forEach((action) => assert.doesNotMatch(action, /\*/));
        assert.ok(statement.Condition, 'service principals are limited by a condition');
      }
    }
  });
});
