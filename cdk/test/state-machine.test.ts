import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_DEFINITION_PATH } from '../lib/definition';
import { logicalId, readJson, templateOf } from './support';

/** Replaces each `${Name}` in a JSON value's strings with `lookup(Name)`. */
function substitute(value: unknown, lookup: (name: string) => string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => lookup(name));
  }
  if (Array.isArray(value)) {
    return value.map((item) => substitute(item, lookup));
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, lookup)]));
  }
  return value;
}

describe('the state machine', () => {
  const { stack, template } = templateOf();
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.values(machines);

  it('is a single Express state machine with X-Ray tracing', () => {
    assert.equal(Object.keys(machines).length, 1);
    assert.equal(machine.Properties.StateMachineType, 'EXPRESS');
    assert.deepEqual(machine.Properties.TracingConfiguration, { Enabled: true });
  });

  it('logs ALL with execution data to an encrypted log group with retention', () => {
    const logging = machine.Properties.LoggingConfiguration;
    assert.equal(logging.Level, 'ALL');
    assert.equal(logging.IncludeExecutionData, true);
    const destination = logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn;
    const logGroupId = destination['Fn::GetAtt'][0] as string;
    const logGroup = template.findResources('AWS::Logs::LogGroup')[logGroupId];
    assert.ok(logGroup, `the destination ${logGroupId} is a log group of this stack`);
    assert.deepEqual(logGroup.Properties.KmsKeyId, { 'Fn::GetAtt': [logicalId(stack, stack.key), 'Arn'] });
    assert.equal(logGroup.Properties.RetentionInDays, 90);
  });

  it('holds purge.asl.json inline, structurally equal to the file after substitution', () => {
    const inline = machine.Properties.DefinitionString;
    assert.equal(typeof inline, 'string', 'DefinitionBody.fromString keeps the definition a literal string');
    const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;

    // Each placeholder must name the ARN of the function the file means, not just any function.
    const expected: Record<string, string> = {
      ValidateRecordsFunctionArn: 'validate-records',
      DeleteObjectsFunctionArn: 'delete-objects',
      BatchPathsFunctionArn: 'batch-paths',
      InvalidateCacheFunctionArn: 'invalidate-cache',
      ReportFailuresFunctionArn: 'report-failures',
    };
    assert.deepEqual(Object.keys(substitutions).sort(), [...Object.keys(expected), 'DeferralQueueUrl'].sort());
    for (const [placeholder, binary] of Object.entries(expected)) {
      const functionId = logicalId(stack, stack.functions[binary as keyof typeof stack.functions].function);
      assert.deepEqual(substitutions[placeholder], { 'Fn::GetAtt': [functionId, 'Arn'] }, placeholder);
    }
    // DeferBatch sends to the stack's deferral queue (its Ref is the queue URL).
    assert.deepEqual(substitutions.DeferralQueueUrl, { Ref: logicalId(stack, stack.deferralQueue) });

    // Substitute as Step Functions will, with a marker standing for each resolved value.
    const resolved = (name: string) => {
      const value = substitutions[name] as { 'Fn::GetAtt': [string, string] } | { Ref: string } | undefined;
      assert.ok(value, `no substitution for \${${name}}`);
      return 'Ref' in value ? `url-of:${value.Ref}` : `arn-of:${value['Fn::GetAtt'][0]}`;
    };
    const deployed = substitute(JSON.parse(inline), resolved);
    const file = readJson(DEFAULT_DEFINITION_PATH);
    const fromFile = substitute(file, resolved);
    assert.deepEqual(deployed, fromFile);
    assert.doesNotMatch(JSON.stringify(deployed), /\$\{/, 'no placeholder is left after substitution');
  });

  it('may invoke exactly the five task functions', () => {
    const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0] as string;
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const invoke = statements.filter((statement: { Action: unknown }) => statement.Action === 'lambda:InvokeFunction');
    assert.equal(invoke.length, 1);
    const taskIds = ['validate-records', 'delete-objects', 'batch-paths', 'invalidate-cache', 'report-failures'].map(
      (binary) => ({ 'Fn::GetAtt': [logicalId(stack, stack.functions[binary as keyof typeof stack.functions].function), 'Arn'] }),
    );
    assert.deepEqual(invoke[0].Resource, taskIds);
  });
});
