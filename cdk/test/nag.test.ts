import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { App, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';

import type { PurgeFlowStackProps } from '../lib/purgeflow-stack';
import { buildStack, EXISTING_STREAM_ARN } from './support';

/** Synthesizes with cdk-nag's AwsSolutions pack, as bin/app.ts does; throws on any unacknowledged finding. */
function synthWithNag(overrides: Partial<PurgeFlowStackProps> = {}, addViolation = false): App {
  const { app, stack } = buildStack(overrides);
  if (addViolation) {
    // An unencrypted queue without SSL enforcement: AwsSolutions-SQS2/SQS3/SQS4.
    new sqs.Queue(stack, 'NotCompliant', { encryption: sqs.QueueEncryption.UNENCRYPTED });
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  return app;
}

/** Every acknowledgement recorded in the construct tree: rule id -> reason. */
function acknowledgements(app: App): [string, string][] {
  return app.node
    .findAll()
    .flatMap((construct) => construct.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
}

const variants: [string, Partial<PurgeFlowStackProps>][] = [
  ['everything created', {}],
  ['versions=all', { versions: 'all' }],
  ['existing table, bucket and distribution', {
    tableStreamArn: EXISTING_STREAM_ARN,
    bucketName: 'photos-bucket',
    distributionId: 'E2QWRUHEXAMPLE',
  }],
  ['no key prefix, alarm email', { keyPrefix: '', alarmEmail: 'oncall@example.com' }],
];

describe('cdk-nag AwsSolutions', () => {
  for (const [name, overrides] of variants) {
    it(`finds nothing unacknowledged: ${name}`, () => {
      assert.doesNotThrow(() => synthWithNag(overrides));
    });
  }

  it('fails synth on a finding (the checks really run)', (t) => {
    // The report goes to the console; capture it so the test log shows only real failures.
    const printed: string[] = [];
    const capture = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    t.mock.method(console, 'error', capture);
    t.mock.method(console, 'log', capture);
    t.mock.method(console, 'warn', capture);
    assert.throws(() => synthWithNag({}, true), /Validation failed/);
    const report = printed.join('\n');
    for (const rule of ['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']) {
      assert.ok(report.includes(rule), `the report names ${rule}:\n${report}`);
    }
    const reportedPaths = new Set(report.match(/PurgeFlow\/\S+/g) ?? []);
    assert.deepEqual([...reportedPaths], ['PurgeFlow/NotCompliant/Resource'], 'only the planted queue is reported');
  });

  it('every acknowledgement gives a real reason', () => {
    const acks = acknowledgements(synthWithNag());
    assert.ok(acks.length >= 8, `expected the stack's acknowledgements, found ${acks.length}`);
    for (const [id, reason] of acks) {
      assert.match(id, /AwsSolutions-[A-Z]+[0-9]+/, id);
      assert.ok(reason.length >= 60, `${id}: the reason "${reason}" is too short to explain anything`);
    }
  });
});
