import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Duration } from 'aws-cdk-lib';

import { actionsOf, identityStatements, logicalId, templateOf } from './support';

describe('the deferral queue and the dispatcher', () => {
  const { stack, template } = templateOf();
  const queueArn = { 'Fn::GetAtt': [logicalId(stack, stack.deferralQueue), 'Arn'] };
  const keyArn = { 'Fn::GetAtt': [logicalId(stack, stack.key), 'Arn'] };
  const queue = (construct: Parameters<typeof logicalId>[1]) =>
    template.toJSON().Resources[logicalId(stack, construct)].Properties;

  it('encrypts both queues with the stack key and sends what keeps failing to the dead-letter queue', () => {
    const deferral = queue(stack.deferralQueue);
    assert.deepEqual(deferral.KmsMasterKeyId, keyArn);
    assert.deepEqual(deferral.RedrivePolicy, {
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stack, stack.deferralDeadLetterQueue), 'Arn'] },
      // Above the 3600 / 5 = 720 receives the hour's max age allows at the 5 s retry delay, so a
      // batch is reported (the dispatcher's max age) before the dead-letter queue takes it.
      maxReceiveCount: 731,
    });
    // Six times the dispatcher's timeout, as Lambda advises for SQS event sources.
    assert.equal(deferral.VisibilityTimeout, 360);
    assert.equal(deferral.MessageRetentionPeriod, 14 * 24 * 3600);
    assert.deepEqual(queue(stack.deferralDeadLetterQueue).KmsMasterKeyId, keyArn);
  });

  it('refuses every request to either queue that is not over TLS', () => {
    for (const construct of [stack.deferralQueue, stack.deferralDeadLetterQueue]) {
      const id = logicalId(stack, construct);
      const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((policy) =>
        policy.Properties.Queues.some((q: { Ref?: string }) => q.Ref === id),
      );
      assert.equal(policies.length, 1, id);
      const denies = policies[0].Properties.PolicyDocument.Statement.filter(
        (s: { Effect: string; Condition?: { Bool?: Record<string, string> } }) =>
          s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
      assert.equal(denies.length, 1, id);
    }
  });

  it('names the queue in the definition and lets the state machine send to it alone', () => {
    const machine = template.toJSON().Resources[logicalId(stack, stack.stateMachine)].Properties;
    assert.deepEqual(machine.DefinitionSubstitutions.DeferralQueueUrl, { Ref: logicalId(stack, stack.deferralQueue) });
    const roleId = logicalId(stack, stack.stateMachine.role);
    const statements = identityStatements(template).filter((s) => s.owner.startsWith(roleId) || s.owner.includes('StateMachineRole'));
    const sqs = statements.filter((s) => s.actions.some((a) => a.startsWith('sqs:')));
    assert.deepEqual(
      sqs.map((s) => [s.actions, s.resources]),
      [[['sqs:SendMessage'], [queueArn]]],
    );
    const kms = statements.filter((s) => s.actions.some((a) => a.startsWith('kms:')));
    assert.deepEqual(
      kms.map((s) => [s.actions, s.resources]),
      [[['kms:GenerateDataKey', 'kms:Decrypt'], [keyArn]]],
    );
  });

  it('gives invalidate-cache the queue and the threshold of the backlog gate, and GetQueueAttributes on that queue alone', () => {
    const fn = stack.functions['invalidate-cache'].function;
    const variables = template.toJSON().Resources[logicalId(stack, fn)].Properties.Environment.Variables;
    assert.deepEqual(variables.PURGE_DEFERRAL_QUEUE_URL, { Ref: logicalId(stack, stack.deferralQueue) });
    assert.equal(variables.PURGE_SKIP_DIRECT_BACKLOG, '1');
    const roleId = logicalId(stack, stack.functions['invalidate-cache'].role);
    const sqs = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: { Ref?: string }) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((s: { Action: string | string[] }) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    assert.deepEqual(
      sqs.map((s: { Action: unknown; Resource: unknown }) => [s.Action, s.Resource]),
      [['sqs:GetQueueAttributes', queueArn]],
    );
    assert.ok(!actionsOf(stack, template, 'invalidate-cache').some((a) => a.startsWith('kms:')));

    for (const [threshold, rendered] of [[0, '0'], [25, '25']] as const) {
      const { stack: tuned, template: tunedTemplate } = templateOf({ skipDirectBacklog: threshold });
      const tunedFn = tunedTemplate.toJSON().Resources[logicalId(tuned, tuned.functions['invalidate-cache'].function)];
      assert.equal(tunedFn.Properties.Environment.Variables.PURGE_SKIP_DIRECT_BACKLOG, rendered);
    }
    for (const bad of [-1, 1.5, 1_000_001]) {
      assert.throws(() => templateOf({ skipDirectBacklog: bad }), /skipDirectBacklog .* must be a whole number from 0 to 1000000/);
    }
  });

  it('feeds the dispatcher through an event source mapping of at most two instances with partial batch responses', () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(queueArn),
    );
    assert.equal(mappings.length, 1);
    const mapping = mappings[0].Properties;
    assert.deepEqual(mapping.FunctionName, { Ref: logicalId(stack, stack.functions['dispatch-invalidations'].function) });
    assert.equal(mapping.BatchSize, 10_000);
    assert.equal(mapping.MaximumBatchingWindowInSeconds, 20);
    assert.deepEqual(mapping.ScalingConfig, { MaximumConcurrency: 2 });
    assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);

    const { template: tuned } = templateOf({ dispatch: { batchSize: 500, maxBatchingWindow: Duration.seconds(5) } });
    tuned.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('lets the dispatcher receive and delete on its queue alone', () => {
    const roleId = logicalId(stack, stack.functions['dispatch-invalidations'].role);
    const sqs = identityStatements(template).filter(
      (s) => s.owner.includes(roleId.replace(/[0-9A-F]{8}$/, '')) && s.actions.some((a) => a.startsWith('sqs:')),
    );
    assert.ok(sqs.length >= 1);
    for (const statement of sqs) {
      assert.deepEqual(statement.resources, [queueArn]);
      assert.ok(statement.actions.includes('sqs:ReceiveMessage') && statement.actions.includes('sqs:DeleteMessage'));
      assert.ok(!statement.actions.includes('sqs:SendMessage'));
    }
    assert.ok(!actionsOf(stack, template, 'dispatch-invalidations').includes('sqs:SendMessage'));
  });

  it('configures the dispatcher as the design says', () => {
    const fn = template.toJSON().Resources[logicalId(stack, stack.functions['dispatch-invalidations'].function)].Properties;
    const env = fn.Environment.Variables;
    assert.deepEqual(env.PURGE_DISTRIBUTION_ID, { Ref: logicalId(stack, stack.distribution) });
    assert.deepEqual(env.PURGE_TOPIC_ARN, { Ref: logicalId(stack, stack.failureTopic) });
    assert.equal(env.PURGE_KEY_PREFIX, 'images/');
    assert.equal(env.PURGE_PATH_TEMPLATES, '/{key}');
    assert.equal(env.PURGE_PRESSURE_ALLOW_ROOT, 'false');
    assert.equal(env.PURGE_DISPATCH_RESERVED_WILDCARDS, '2');
    assert.equal(env.PURGE_DISPATCH_MAX_AGE_SECONDS, '3600');
    // Returned messages come back after 5 s, not the queue's 6-minute visibility timeout.
    assert.equal(env.PURGE_DISPATCH_RETRY_SECONDS, '5');
    assert.deepEqual(env.PURGE_DEFERRAL_QUEUE_URL, { Ref: logicalId(stack, stack.deferralQueue) });
    assert.equal(fn.Timeout, 60);
    // It plans its event and up to 1,000 more batches at once.
    assert.equal(fn.MemorySize, 1024);

    const { stack: tunedStack, template: tuned } = templateOf({
      dispatch: { reservedWildcards: 4, maxMessageAge: Duration.minutes(30), retryDelay: Duration.seconds(20) },
    });
    const tunedEnv = tuned.toJSON().Resources[logicalId(tunedStack, tunedStack.functions['dispatch-invalidations'].function)]
      .Properties.Environment.Variables;
    assert.equal(tunedEnv.PURGE_DISPATCH_RESERVED_WILDCARDS, '4');
    assert.equal(tunedEnv.PURGE_DISPATCH_MAX_AGE_SECONDS, '1800');
    assert.equal(tunedEnv.PURGE_DISPATCH_RETRY_SECONDS, '20');
    assert.equal(
      tuned.toJSON().Resources[logicalId(tunedStack, tunedStack.deferralQueue)].Properties.RedrivePolicy.maxReceiveCount,
      1800 / 20 + 1 + 10,
    );
  });

  it('refuses dispatcher settings CloudFront or SQS would not take', () => {
    assert.throws(() => templateOf({ dispatch: { reservedWildcards: 15 } }), /reservedWildcards/);
    assert.throws(() => templateOf({ dispatch: { batchSize: 10_001 } }), /batchSize/);
    assert.throws(() => templateOf({ dispatch: { retryDelay: Duration.seconds(0) } }), /retryDelay/);
    assert.throws(() => templateOf({ dispatch: { retryDelay: Duration.minutes(16) } }), /retryDelay/);
    // A day's max age at a 5 s retry: 17,280 receives, past SQS's largest maxReceiveCount.
    assert.throws(() => templateOf({ dispatch: { maxMessageAge: Duration.days(1) } }), /maxReceiveCount/);
  });
});
