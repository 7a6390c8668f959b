import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';

import { logicalId, templateOf } from './support';

describe('alarms, topics and outputs', () => {
  const { stack, template } = templateOf();
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
  const alarmOn = (metricName: string) => {
    const found = alarms.filter((alarm) => alarm.Properties.MetricName === metricName);
    assert.equal(found.length, 1, `one alarm on ${metricName}`);
    return found[0].Properties;
  };

  it('alarm on failed and timed-out executions of the purge state machine', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      const alarm = alarmOn(metric);
      assert.equal(alarm.Namespace, 'AWS/States');
      assert.deepEqual(alarm.Dimensions, [{ Name: 'StateMachineArn', Value: { Ref: logicalId(stack, stack.stateMachine) } }]);
      assert.equal(alarm.Threshold, 1);
    }
  });

  it('alarm on trigger errors and on the stream iterator age', () => {
    const triggerDimension = [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.functions['purge-trigger'].function) } }];
    assert.deepEqual(alarmOn('Errors').Dimensions, triggerDimension);
    const age = alarmOn('IteratorAge');
    assert.deepEqual(age.Dimensions, triggerDimension);
    assert.equal(age.Statistic, 'Maximum');
    assert.equal(age.Threshold, 600_000);
  });

  it('alarm on the depth of the on-failure queue and of the deferral dead-letter queue', () => {
    const depths = alarms
      .filter((alarm) => alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')
      .map((alarm) => alarm.Properties.Dimensions);
    const queueDimension = (queue: Parameters<typeof logicalId>[1]) => [
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, queue), 'QueueName'] } },
    ];
    assert.deepEqual(depths, [queueDimension(stack.onFailureQueue), queueDimension(stack.deferralDeadLetterQueue)]);
  });

  it('alarm on the age of the deferral queue\'s oldest message', () => {
    const age = alarmOn('ApproximateAgeOfOldestMessage');
    assert.equal(age.Namespace, 'AWS/SQS');
    assert.deepEqual(age.Dimensions, [
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, stack.deferralQueue), 'QueueName'] } },
    ]);
    assert.equal(age.Statistic, 'Maximum');
    assert.equal(age.Threshold, 900);
    assert.equal(age.ComparisonOperator, 'GreaterThanThreshold');
    const { template: custom } = templateOf({ deferralAgeAlarmThreshold: Duration.minutes(5) });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 300 });
  });

  it('send every alarm to the encrypted alarm topic', () => {
    assert.equal(alarms.length, 7);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: logicalId(stack, stack.alarmTopic) }]);
    }
    template.resourceCountIs('AWS::SNS::Subscription', 1); // only the failure queue: no email by default
  });

  it('subscribe an email address to the alarms when given', () => {
    const { stack: withEmail, template: emailTemplate } = templateOf({ alarmEmail: 'oncall@example.com' });
    emailTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: logicalId(withEmail, withEmail.alarmTopic) },
    });
  });

  it('encrypt the failure topic with the stack key and queue every report raw', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.key), 'Arn'] },
      DisplayName: 'purgeflow failure reports',
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: { Ref: logicalId(stack, stack.failureTopic) },
      Endpoint: { 'Fn::GetAtt': [logicalId(stack, stack.failureQueue), 'Arn'] },
      RawMessageDelivery: true,
      FilterPolicy: Match.absent(),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('output the state machine, topic, queue and a console link', () => {
    const outputs = template.findOutputs('*');
    for (const name of ['StateMachineArn', 'FailureTopicArn', 'FailureQueueUrl', 'OnFailureQueueUrl', 'StateMachineConsoleUrl']) {
      assert.ok(outputs[name], name);
    }
    assert.match(JSON.stringify(outputs.StateMachineConsoleUrl.Value), /console\.aws\.amazon\.com\/states\/home\?region=eu-west-1/);
  });
});
