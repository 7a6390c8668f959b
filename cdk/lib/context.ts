import { Duration } from 'aws-cdk-lib';

import type { PurgeFlowStackProps } from './purgeflow-stack';
import type { TtlDeletes, VersionsPolicy } from './settings';

/**
 * The app's configuration from CDK context (`cdk deploy -c keyTemplate={image_key} ...`), so one
 * command deploys without editing code. Each key is a {@link PurgeFlowStackProps} prop of the
 * same name; lists are comma-separated, durations in seconds.
 */
export type ContextLookup = (key: string) => unknown;

/** The stack props read from context, minus the StackProps (env) that bin/app.ts sets. */
export function propsFromContext(get: ContextLookup): Omit<PurgeFlowStackProps, 'env'> {
  const text = (key: string): string | undefined => {
    const value = get(key);
    if (value === undefined || value === null || value === '') {
      return undefined;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
    }
    return String(value);
  };
  const required = (key: string, example: string): string => {
    const value = text(key);
    if (value === undefined) {
      throw new Error(`context ${key} is required, e.g. cdk synth -c ${key}=${example}`);
    }
    return value;
  };
  const integer = (key: string): number | undefined => {
    const value = text(key);
    if (value === undefined) {
      return undefined;
    }
    const parsed = Number(value);
    if (!Number.isInteger(parsed)) {
      throw new Error(`context ${key}=${value} must be a whole number`);
    }
    return parsed;
  };
  const seconds = (key: string): Duration | undefined => {
    const value = integer(key);
    return value === undefined ? undefined : Duration.seconds(value);
  };
  const boolean = (key: string): boolean | undefined => {
    const value = text(key);
    if (value === undefined) {
      return undefined;
    }
    if (value !== 'true' && value !== 'false') {
      throw new Error(`context ${key}=${value} must be true or false`);
    }
    return value === 'true';
  };

  return {
    lambdaAssetDir: required('lambdaAssetDir', '../target/lambda'),
    keyTemplate: required('keyTemplate', "'{image_key}'"),
    keyPrefix: text('keyPrefix'),
    pathTemplates: text('pathTemplates')?.split(','),
    ttlDeletes: text('ttlDeletes') as TtlDeletes | undefined,
    checkSuperseded: boolean('checkSuperseded'),
    versions: text('versions') as VersionsPolicy | undefined,
    maxRecordsPerExecution: integer('maxRecordsPerExecution'),
    pressureMaxLevel: integer('pressureMaxLevel'),
    pressureAllowRoot: boolean('pressureAllowRoot'),
    allowUnsignedInputs: boolean('allowUnsignedInputs'),
    tableStreamArn: text('tableStreamArn'),
    tableName: text('tableName'),
    newTablePartitionKey: text('newTablePartitionKey'),
    newTableTimeToLiveAttribute: text('newTableTimeToLiveAttribute'),
    bucketName: text('bucketName'),
    distributionId: text('distributionId'),
    alarmEmail: text('alarmEmail'),
    iteratorAgeAlarmThreshold: seconds('iteratorAgeAlarmSeconds'),
    deferralAgeAlarmThreshold: seconds('deferralAgeAlarmSeconds'),
    skipDirectBacklog: integer('skipDirectBacklog'),
    dispatch: {
      reservedWildcards: integer('dispatchReservedWildcards'),
      maxMessageAge: seconds('dispatchMaxMessageAgeSeconds'),
      batchSize: integer('dispatchBatchSize'),
      maxBatchingWindow: seconds('dispatchBatchingWindowSeconds'),
      retryDelay: seconds('dispatchRetryDelaySeconds'),
    },
    stream: {
      batchSize: integer('streamBatchSize'),
      maxBatchingWindow: seconds('streamBatchingWindowSeconds'),
      retryAttempts: integer('streamRetryAttempts'),
      maxRecordAge: seconds('streamMaxRecordAgeSeconds'),
    },
  };
}
