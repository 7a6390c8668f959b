import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Match } from 'aws-cdk-lib/assertions';

import { EXISTING_STREAM_ARN, logicalId, templateOf } from './support';

describe('the stream mapping', () => {
  const { stack, template } = templateOf();
  // The stream's mapping; the other one feeds the dispatcher from the deferral queue (deferral.test.ts).
  const all = template.findResources('AWS::Lambda::EventSourceMapping');
  const streamId = logicalId(stack, stack.table);
  const mappings = Object.fromEntries(
    Object.entries(all).filter(([, m]) => JSON.stringify(m.Properties.EventSourceArn).includes('StreamArn')),
  );
  const [mapping] = Object.values(mappings);

  it('is the only mapping on the stream, and it invokes the trigger', () => {
    assert.equal(Object.keys(all).length, 2);
    assert.ok(streamId);
    assert.equal(Object.keys(mappings).length, 1);
    assert.deepEqual(mapping.Properties.FunctionName, { Ref: logicalId(stack, stack.functions['purge-trigger'].function) });
  });

  it('reads the created table\'s stream, which carries old images', () => {
    const tableId = logicalId(stack, stack.table);
    assert.deepEqual(mapping.Properties.EventSourceArn, { 'Fn::GetAtt': [tableId, 'StreamArn'] });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
  });

  it('filters on {"eventName": ["REMOVE"]} only', () => {
    const filters = mapping.Properties.FilterCriteria.Filters as { Pattern: string }[];
    assert.equal(filters.length, 1);
    assert.deepEqual(JSON.parse(filters[0].Pattern), { eventName: ['REMOVE'] });
  });

  it('bisects on error and reports batch item failures', () => {
    assert.equal(mapping.Properties.BisectBatchOnFunctionError, true);
    assert.deepEqual(mapping.Properties.FunctionResponseTypes, ['ReportBatchItemFailures']);
  });

  it('bounds retries and record age, and batches with a window', () => {
    assert.equal(mapping.Properties.MaximumRetryAttempts, 10);
    assert.equal(mapping.Properties.MaximumRecordAgeInSeconds, 86_400);
    assert.equal(mapping.Properties.BatchSize, 100);
    assert.equal(mapping.Properties.MaximumBatchingWindowInSeconds, 5);
    assert.equal(mapping.Properties.StartingPosition, 'TRIM_HORIZON');
  });

  it('sends what it gives up on to the on-failure queue, encrypted and SSL only', () => {
    const queueId = logicalId(stack, stack.onFailureQueue);
    assert.deepEqual(mapping.Properties.DestinationConfig, {
      OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
    const queue = template.findResources('AWS::SQS::Queue')[queueId];
    assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('takes its tuning from props', () => {
    const { template: tuned } = templateOf({ stream: { batchSize: 500, retryAttempts: 3 } });
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 500, MaximumRetryAttempts: 3 });
  });

  it('uses an existing table\'s stream ARN as given, and creates no table', () => {
    const { template: existing } = templateOf({ tableStreamArn: EXISTING_STREAM_ARN });
    existing.resourceCountIs('AWS::DynamoDB::Table', 0);
    existing.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: EXISTING_STREAM_ARN });
  });
});
