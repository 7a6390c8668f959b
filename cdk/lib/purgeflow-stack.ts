import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

import { DEFAULT_DEFINITION_PATH, loadDefinition } from './definition';
import { type FunctionName, RustFunction } from './rust-function';
import { type PurgeSettings, type ResolvedSettings, resolveSettings, settingsEnvironment } from './settings';

/** The stream event source mapping's tuning. Every field has a default. */
export interface StreamProps {
  /**
   * Most records per trigger invocation (1 to 10000).
   *
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking the trigger; longer windows mean fuller
   * executions and fewer invalidations.
   *
   * @default Duration.seconds(5)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * How many times a failing batch is retried (with bisection) before its records go to the
   * on-failure queue.
   *
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go straight to the on-failure queue instead of being retried.
   *
   * @default Duration.days(1) (the stream keeps records for 24 hours)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Where a new mapping starts reading. TRIM_HORIZON also purges what was removed in the stream's
   * last 24 hours, which is safe because every step is idempotent.
   *
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;
}

/** The dispatcher's tuning (dispatch-invalidations, fed by the deferral queue). Every field has a default. */
export interface DispatchProps {
  /**
   * Wildcard slots of CloudFront's 15 in progress the dispatcher leaves free for people.
   *
   * @default 2
   */
  readonly reservedWildcards?: number;
  /**
   * A deferred batch older than this is reported on the failure topic (with a replayInput) and
   * deleted from the queue, instead of waiting longer for capacity.
   *
   * @default Duration.hours(1)
   */
  readonly maxMessageAge?: Duration;
  /**
   * Most deferred batches per dispatcher invocation (1 to 10000); over 10 needs a batching window.
   *
   * @default 10000
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers deferred batches before invoking the dispatcher: longer windows
   * coalesce more paths into each invalidation.
   *
   * @default Duration.seconds(20)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * How soon a deferred batch the dispatcher could not cover is received again: the dispatcher
   * sets this visibility on each message it returns (PURGE_DISPATCH_RETRY_SECONDS), instead of
   * leaving it to the queue's 6-minute visibility timeout. 1 s to 15 minutes.
   *
   * @default Duration.seconds(5)
   */
  readonly retryDelay?: Duration;
}

/** Props of {@link PurgeFlowStack}. */
export interface PurgeFlowStackProps extends StackProps, PurgeSettings {
  /**
   * The output directory of `cargo lambda build --release --arm64`, holding
   * `<binary>/bootstrap` for each of the six functions (normally `<repo>/target/lambda`).
   */
  readonly lambdaAssetDir: string;

  /**
   * The stream ARN of an existing table (`arn:aws:dynamodb:region:account:table/NAME/stream/LABEL`).
   * The stream must be enabled with NEW_AND_OLD_IMAGES (or OLD_IMAGE): purgeflow reads the
   * removed item's old image. When neither this nor {@link tableName} is set, a table is created.
   *
   * @default - a new table
   */
  readonly tableStreamArn?: string;
  /**
   * The existing table's name. Optional with {@link tableStreamArn} (it is read from the ARN); if
   * given, it must match. A name alone is refused: CloudFormation cannot look a stream up by
   * table name, and the mapping needs the stream.
   *
   * @default - read from tableStreamArn
   */
  readonly tableName?: string;
  /**
   * The partition key of the table created when no table is given. Ignored for an existing table.
   *
   * @default 'id'
   */
  readonly newTablePartitionKey?: string;
  /**
   * The TTL attribute of the table created when no table is given, if any.
   *
   * @default - no TTL
   */
  readonly newTableTimeToLiveAttribute?: string;

  /**
   * An existing bucket holding the objects.
   *
   * @default - a new private, encrypted, versioned bucket
   */
  readonly bucketName?: string;

  /**
   * An existing CloudFront distribution's id (e.g. `E2QWRUHEXAMPLE`).
   *
   * @default - a new distribution in front of the bucket, through Origin Access Control
   */
  readonly distributionId?: string;

  /**
   * The state machine definition.
   *
   * @default statemachine/purge.asl.json of this repository
   */
  readonly definitionPath?: string;

  /** Stream mapping tuning. */
  readonly stream?: StreamProps;

  /**
   * How long the state machine's and the functions' logs are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The trigger's iterator age above which the stream is considered to be falling behind.
   *
   * @default Duration.minutes(10)
   */
  readonly iteratorAgeAlarmThreshold?: Duration;

  /** The dispatcher's tuning. */
  readonly dispatch?: DispatchProps;

  /**
   * The backlog gate (`PURGE_SKIP_DIRECT_BACKLOG`, tasks/src/backlog_gate.rs): while at least
   * this many batches wait on the deferral queue, invalidate-cache's first attempt does not call
   * CloudFront and the batch joins them for the dispatcher, so a storm's executions do not
   * throttle one another and the dispatcher. 0 turns the gate off; 0 to 1000000.
   *
   * @default 1
   */
  readonly skipDirectBacklog?: number;

  /**
   * The age of the deferral queue's oldest message above which the dispatcher is falling behind
   * (CloudFront stays full, or the dispatcher fails).
   *
   * @default Duration.minutes(15)
   */
  readonly deferralAgeAlarmThreshold?: Duration;

  /**
   * An address subscribed to the alarms topic (it must confirm the subscription).
   *
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/** The functions the state machine's Task states invoke. */
type TaskName = Exclude<FunctionName, 'purge-trigger' | 'dispatch-invalidations'>;

/** The dispatcher's invocation timeout; the deferral queue's visibility timeout is six times it, as Lambda advises for SQS sources. */
const DISPATCH_TIMEOUT = Duration.seconds(60);

/**
 * The dispatcher's memory: it plans its 6 MB event and up to PURGE_DISPATCH_EXTRA_MESSAGES (1,000)
 * more deferred batches at once, about a million paths in a storm (and Lambda's CPU grows with it).
 */
const DISPATCH_MEMORY_MB = 1024;

/**
 * How often a deferred batch may come back before SQS moves it to the dead-letter queue, beyond
 * the receives its maximum age allows. While CloudFront stays full the dispatcher returns a batch
 * every `retryDelay` (5 s by default), so within the hour's maximum age it can be received up to
 * 3600 / 5 = 720 times; the dead-letter queue must only take it after that, once the dispatcher
 * has reported it (a batch reaches the dead-letter queue when the dispatcher keeps failing on it,
 * never for lack of capacity). This margin covers the receives of failed invocations.
 */
const DEFERRAL_EXTRA_RECEIVES = 10;

/** SQS's largest maxReceiveCount. */
const SQS_MAX_RECEIVE_COUNT = 1000;

/** The deferral queue's maxReceiveCount: the receives the max age allows, and the margin. */
function deferralMaxReceiveCount(dispatch: DispatchProps): number {
  const maxAge = (dispatch.maxMessageAge ?? Duration.hours(1)).toSeconds();
  const retry = (dispatch.retryDelay ?? Duration.seconds(5)).toSeconds();
  return Math.ceil(maxAge / retry) + 1 + DEFERRAL_EXTRA_RECEIVES;
}

/** The Lambda placeholders of purge.asl.json and the function each one names. */
const DEFINITION_SUBSTITUTIONS: Record<string, TaskName> = {
  ValidateRecordsFunctionArn: 'validate-records',
  DeleteObjectsFunctionArn: 'delete-objects',
  BatchPathsFunctionArn: 'batch-paths',
  InvalidateCacheFunctionArn: 'invalidate-cache',
  ReportFailuresFunctionArn: 'report-failures',
};

/** Reads the table name out of a DynamoDB stream ARN, when the ARN is a literal. */
export function tableNameFromStreamArn(streamArn: string): string {
  const match = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)\/stream\/[^/]+$/.exec(streamArn);
  if (!match) {
    throw new Error(
      `tableStreamArn ${JSON.stringify(streamArn)} is invalid; expected arn:aws:dynamodb:region:account:table/NAME/stream/LABEL`,
    );
  }
  return match[1];
}

/**
 * purgeflow: when an item is removed from the table, delete its object from the bucket and
 * invalidate its CDN paths, through an Express state machine whose tasks are Rust Lambdas.
 */
export class PurgeFlowStack extends Stack {
  readonly settings: ResolvedSettings;
  readonly functions: Record<FunctionName, RustFunction>;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  readonly distribution: cloudfront.IDistribution;
  readonly key: kms.Key;
  /** The HMAC_256 key that signs execution inputs and replay inputs (tasks/src/signing.rs). */
  readonly macKey: kms.Key;
  readonly stateMachine: sfn.StateMachine;
  readonly failureTopic: sns.Topic;
  readonly deferralQueue: sqs.Queue;
  readonly deferralDeadLetterQueue: sqs.Queue;
  readonly failureQueue: sqs.Queue;
  readonly onFailureQueue: sqs.Queue;
  readonly alarmTopic: sns.Topic;
  readonly alarms: Record<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: PurgeFlowStackProps) {
    super(scope, id, props);
    this.settings = resolveSettings(props);
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;

    this.key = this.createKey();
    this.macKey = new kms.Key(this, 'MacKey', {
      description: 'purgeflow: signs execution inputs and replay inputs (HMAC; GenerateMac / VerifyMac)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.macKey,
      'AwsSolutions-KMS5',
      'KMS does not rotate HMAC keys automatically; rotating means a new key, and replay inputs signed with the old one must be replayed first',
    );
    this.table = this.tableFrom(props);
    this.bucket = this.bucketFrom(props);
    this.distribution = this.distributionFrom(props);
    this.failureTopic = new sns.Topic(this, 'FailureTopic', {
      displayName: 'purgeflow failure reports',
      masterKey: this.key,
      enforceSSL: true,
    });

    this.deferralDeadLetterQueue = this.keyEncryptedQueue('DeferralDeadLetterQueue', {});
    acknowledge(
      this.deferralDeadLetterQueue,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter queue of the deferral queue; its alarm pages a human (see the README runbook)',
    );
    // Batches CloudFront refused, sent by the state machine (DeferBatch) and drained by the
    // dispatcher. Encrypted with the stack's key: the state machine and the dispatcher are the
    // only writer and reader, and both are granted the key.
    // The dispatcher shortens the visibility of what it returns (retryDelay); this timeout only
    // applies to messages received by an invocation that failed.
    const dispatch = checkedDispatch(props.dispatch ?? {});
    this.deferralQueue = this.keyEncryptedQueue('DeferralQueue', {
      visibilityTimeout: Duration.seconds(DISPATCH_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deferralDeadLetterQueue, maxReceiveCount: deferralMaxReceiveCount(dispatch) },
    });

    const shared = settingsEnvironment(this.settings);
    const fn = (
      binary: FunctionName,
      description: string,
      environment: Record<string, string>,
      timeout: Duration,
      memorySize?: number,
    ) =>
      new RustFunction(this, pascal(binary), {
        binary,
        assetDir: props.lambdaAssetDir,
        description,
        environment: { ...shared, ...environment },
        timeout,
        memorySize,
        logKey: this.key,
        logRetention,
      });

    const validateEnvironment: Record<string, string> = { PURGE_BUCKET: this.bucket.bucketName };
    if (this.settings.checkSuperseded) {
      validateEnvironment.PURGE_TABLE_NAME = this.table.tableName;
    }
    const tasks = {
      'validate-records': fn(
        'validate-records',
        'purgeflow: removed records -> purge targets (key rules, prefix, supersede check)',
        validateEnvironment,
        Duration.seconds(30),
      ),
      'delete-objects': fn('delete-objects', 'purgeflow: S3 DeleteObjects for the purge targets', {}, Duration.seconds(60)),
      'batch-paths': fn(
        'batch-paths',
        'purgeflow: CDN paths -> CloudFront invalidation batches',
        { PURGE_DISTRIBUTION_ID: this.distribution.distributionId },
        Duration.seconds(10),
      ),
      'invalidate-cache': fn(
        'invalidate-cache',
        'purgeflow: CloudFront CreateInvalidation for one batch',
        // The backlog gate reads the deferral queue's counts before the first attempt.
        {
          PURGE_DEFERRAL_QUEUE_URL: this.deferralQueue.queueUrl,
          PURGE_SKIP_DIRECT_BACKLOG: String(checkedSkipDirectBacklog(props.skipDirectBacklog)),
        },
        Duration.seconds(30),
      ),
      'report-failures': fn(
        'report-failures',
        'purgeflow: failure reports with replay input -> SNS',
        { PURGE_TOPIC_ARN: this.failureTopic.topicArn },
        Duration.seconds(30),
      ),
    };
    this.grantTaskPermissions(tasks);
    // The MAC: validate-records verifies it; report-failures verifies a caught error's original
    // input and signs replay inputs. Each role gets only the operation it calls, on this key only.
    const macKeyId = { PURGE_MAC_KEY_ID: this.macKey.keyArn };
    tasks['validate-records'].function.addEnvironment('PURGE_MAC_KEY_ID', this.macKey.keyArn);
    tasks['report-failures'].function.addEnvironment('PURGE_MAC_KEY_ID', this.macKey.keyArn);
    this.grantMac(tasks['validate-records'].function, ['kms:VerifyMac']);
    this.grantMac(tasks['report-failures'].function, ['kms:GenerateMac', 'kms:VerifyMac']);

    this.stateMachine = this.createStateMachine(props, tasks, logRetention);

    const trigger = fn(
      'purge-trigger',
      'purgeflow: stream REMOVE records -> Express executions',
      { PURGE_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn, ...macKeyId },
      Duration.seconds(60),
    );
    this.grantMac(trigger.function, ['kms:GenerateMac']);
    trigger.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
    );
    const dispatcher = fn(
      'dispatch-invalidations',
      'purgeflow: deferred batches -> invalidations coalesced into CloudFront\'s free capacity',
      {
        PURGE_DISTRIBUTION_ID: this.distribution.distributionId,
        PURGE_TOPIC_ARN: this.failureTopic.topicArn,
        PURGE_DISPATCH_RESERVED_WILDCARDS: String(dispatch.reservedWildcards ?? 2),
        PURGE_DISPATCH_MAX_AGE_SECONDS: String((dispatch.maxMessageAge ?? Duration.hours(1)).toSeconds()),
        PURGE_DISPATCH_RETRY_SECONDS: String((dispatch.retryDelay ?? Duration.seconds(5)).toSeconds()),
        PURGE_DEFERRAL_QUEUE_URL: this.deferralQueue.queueUrl,
        ...macKeyId,
      },
      DISPATCH_TIMEOUT,
      DISPATCH_MEMORY_MB,
    );
    this.grantMac(dispatcher.function, ['kms:GenerateMac']);
    this.connectDispatcher(dispatch, dispatcher.function);
    this.functions = { 'purge-trigger': trigger, ...tasks, 'dispatch-invalidations': dispatcher };

    this.onFailureQueue = this.encryptedQueue('OnFailureQueue');
    acknowledge(
      this.onFailureQueue,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter destination of the stream mapping (records it could not hand over); its alarm pages a human',
    );
    this.connectStream(props, trigger.function);

    this.failureQueue = this.encryptedQueue('FailureQueue');
    acknowledge(
      this.failureQueue,
      'AwsSolutions-SQS3',
      'the failure-report queue is read by `purgeflow replay`, which deletes a report only after replaying it; a DLQ would move unreplayed reports away from where the runbook looks',
    );
    // Raw delivery: the message body is the failure report itself, and the SNS message attributes
    // (purgeflow.kind, purgeflow.replayable, ...) arrive as SQS message attributes. No filter:
    // reports of rejections alone have no replay input but still need a human to read them, and
    // the queue is where the runbook looks.
    this.failureTopic.addSubscription(new subscriptions.SqsSubscription(this.failureQueue, { rawMessageDelivery: true }));

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'purgeflow alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    this.alarms = this.createAlarms(
      trigger.function,
      props.iteratorAgeAlarmThreshold ?? Duration.minutes(10),
      props.deferralAgeAlarmThreshold ?? Duration.minutes(15),
    );

    this.createOutputs();
  }

  /** `actions` (GenerateMac / VerifyMac) on the MAC key alone, for `fn`'s role. */
  private grantMac(fn: lambda.IFunction, actions: string[]): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [this.macKey.keyArn] }));
  }

  /** One customer-managed key for the logs and the topics, usable by the services that write them. */
  private createKey(): kms.Key {
    const key = new kms.Key(this, 'Key', {
      description: 'purgeflow: encrypts its log groups, SNS topics and deferral queues',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs encrypts the log groups, but only for log groups of this account.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': this.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    // CloudWatch alarms publish to the encrypted alarm topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    return key;
  }

  private tableFrom(props: PurgeFlowStackProps): dynamodb.ITable {
    if (props.tableStreamArn !== undefined) {
      const fromArn = tableNameFromStreamArn(props.tableStreamArn);
      if (props.tableName !== undefined && props.tableName !== fromArn) {
        throw new Error(`tableName ${props.tableName} does not match the table of tableStreamArn (${fromArn})`);
      }
      return dynamodb.Table.fromTableAttributes(this, 'Table', {
        tableName: fromArn,
        tableStreamArn: props.tableStreamArn,
      });
    }
    if (props.tableName !== undefined) {
      throw new Error(
        `tableName ${props.tableName} was given without tableStreamArn; the stream mapping needs the stream's ARN ` +
          `(aws dynamodbstreams list-streams --table-name ${props.tableName}), and the stream must have NEW_AND_OLD_IMAGES`,
      );
    }
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: props.newTablePartitionKey ?? 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: props.newTableTimeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    return table;
  }

  private bucketFrom(props: PurgeFlowStackProps): s3.IBucket {
    if (props.bucketName !== undefined) {
      return s3.Bucket.fromBucketName(this, 'Bucket', props.bucketName);
    }
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      // With PURGE_VERSIONS=marker a purge leaves the older versions behind a delete marker: keep
      // them long enough to undo a mistaken purge, then let S3 remove them.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30), expiredObjectDeleteMarker: true }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      bucket,
      'AwsSolutions-S1',
      'every delete purgeflow makes is recorded with its key in the state machine execution log (level ALL); server access logs for the app\'s own reads and writes are the app owner\'s choice: pass bucketName to use a bucket that has them',
    );
    return bucket;
  }

  private distributionFrom(props: PurgeFlowStackProps): cloudfront.IDistribution {
    if (props.distributionId !== undefined) {
      return cloudfront.Distribution.fromDistributionAttributes(this, 'Distribution', {
        distributionId: props.distributionId,
        // Only the id and ARN are used; the domain name is not needed to invalidate.
        domainName: `${props.distributionId}.invalid`,
      });
    }
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'purgeflow: objects of the purged bucket',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      },
    });
    acknowledge(
      distribution,
      'AwsSolutions-CFR1',
      'the distribution created for a new deployment serves the app\'s public objects worldwide; geo restrictions are a business decision for the app owner',
    );
    acknowledge(
      distribution,
      'AwsSolutions-CFR2',
      'WAF in front of the app\'s content is the app owner\'s choice (it costs per request); purgeflow only invalidates paths through the CloudFront API',
    );
    acknowledge(
      distribution,
      'AwsSolutions-CFR3',
      'access logs need a logging bucket with ACLs enabled, which this stack does not create; the purges themselves are logged by the state machine',
    );
    acknowledge(
      distribution,
      'AwsSolutions-CFR4',
      'the created distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the security policy at TLSv1 (a minimum protocol version needs a custom domain and certificate, which only the app owner has); viewers are redirected to HTTPS',
    );
    return distribution;
  }

  /** Each task's own permissions, nothing shared. */
  private grantTaskPermissions(tasks: Record<TaskName, RustFunction>): void {
    const objectsUnderPrefix = this.bucket.arnForObjects(`${this.settings.keyPrefix}*`);
    const deleteObjects = tasks['delete-objects'].function;
    // DeleteObjects (the multi-object API) is authorised per key as s3:DeleteObject.
    deleteObjects.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [objectsUnderPrefix] }),
    );
    acknowledge(
      tasks['delete-objects'].role,
      `AwsSolutions-IAM5[Resource::${nagArn(this.bucket, this.settings.keyPrefix)}]`,
      'the objects to delete are named by the removed records, an open set; the wildcard only spans keys under the configured PURGE_KEY_PREFIX, which the Lambda enforces too',
    );
    if (this.settings.versions === 'all') {
      deleteObjects.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:DeleteObjectVersion'], resources: [objectsUnderPrefix] }),
      );
      // ListObjectVersions is authorised on the bucket as s3:ListBucketVersions; its prefix
      // (the key itself) is limited to the configured prefix.
      const listVersions = new iam.PolicyStatement({
        actions: ['s3:ListBucketVersions'],
        resources: [this.bucket.bucketArn],
      });
      if (this.settings.keyPrefix !== '') {
        listVersions.addCondition('StringLike', { 's3:prefix': `${this.settings.keyPrefix}*` });
      }
      deleteObjects.addToRolePolicy(listVersions);
    }

    if (this.settings.checkSuperseded) {
      tasks['validate-records'].function.addToRolePolicy(
        // BatchGetItem reads the keys 100 at a time; GetItem isolates a key a refused batch holds.
        new iam.PolicyStatement({
          actions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
          resources: [this.table.tableArn],
        }),
      );
    }

    tasks['invalidate-cache'].function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudfront:CreateInvalidation'],
        resources: [this.distribution.distributionArn],
      }),
    );
    // The backlog gate: the deferral queue's message counts, on that queue alone. GetQueueAttributes
    // reads no message, so the queue's KMS key is not needed.
    tasks['invalidate-cache'].function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:GetQueueAttributes'], resources: [this.deferralQueue.queueArn] }),
    );

    // Publishing to a KMS-encrypted topic: SNS asks for a data key under the publisher's identity.
    // Written out instead of Topic.grantPublish, whose kms:GenerateDataKey* is wider than needed.
    const reportFailures = tasks['report-failures'].function;
    reportFailures.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.failureTopic.topicArn] }),
    );
    reportFailures.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn] }),
    );
  }

  private createStateMachine(
    props: PurgeFlowStackProps,
    tasks: Record<TaskName, RustFunction>,
    logRetention: logs.RetentionDays,
  ): sfn.StateMachine {
    const substitutions: Record<string, string> = Object.fromEntries(
      Object.entries(DEFINITION_SUBSTITUTIONS).map(([placeholder, binary]) => [placeholder, tasks[binary].function.functionArn]),
    );
    // DeferBatch's SQS integration sends refused batches here.
    substitutions.DeferralQueueUrl = this.deferralQueue.queueUrl;
    const definitionPath = props.definitionPath ?? DEFAULT_DEFINITION_PATH;
    const definition = loadDefinition(definitionPath, Object.keys(substitutions));

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      // Step Functions delivers logs through CloudWatch vended logs, whose resource policy has a
      // size limit; names under /aws/vendedlogs/ share one policy entry. Retained with the stack's
      // name: delete it by hand before re-creating a deleted stack of the same name.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-purge`,
      encryptionKey: this.key,
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const stateMachine = new sfn.StateMachine(this, 'PurgeStateMachine', {
      stateMachineType: sfn.StateMachineType.EXPRESS,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // The definition's Resources are plain function ARNs, so exactly those may be invoked.
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(tasks).map((task) => task.function.functionArn),
      }),
    );
    // DeferBatch: SendMessage to the deferral queue alone, and the key it is encrypted with
    // (SQS asks for a data key under the sender's identity).
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deferralQueue.queueArn] }),
    );
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn] }),
    );
    acknowledge(
      stateMachine,
      'AwsSolutions-IAM5[Resource::*]',
      'AWS requires Resource "*" for the CloudWatch Logs vended-delivery actions (logs:CreateLogDelivery and the rest) and for X-Ray (xray:PutTraceSegments, ...); both are added by aws-cdk-lib for logging and tracing',
    );
    return stateMachine;
  }

  private encryptedQueue(id: string): sqs.Queue {
    return new sqs.Queue(this, id, {
      // SQS-managed keys: SNS and Lambda's on-failure destination can write without key grants.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  /** A queue encrypted with the stack's key, SSL only, keeping messages 14 days. */
  private keyEncryptedQueue(id: string, props: sqs.QueueProps): sqs.Queue {
    return new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      ...props,
    });
  }

  /**
   * The dispatcher's permissions and its SQS event source mapping: at most two instances
   * (MaximumConcurrency 2, the minimum), each unioning up to 10,000 deferred batches gathered
   * over the batching window, and answering which batches it did not cover (partial batch
   * response) so that only those come back. Two instances never overcommit the distribution:
   * CloudFront's own TooManyInvalidationsInProgress arbitrates, and a refused plan's batches
   * simply come back.
   */
  private connectDispatcher(dispatch: DispatchProps, dispatcher: lambda.Function): void {
    dispatcher.addToRolePolicy(
      new iam.PolicyStatement({
        // ListInvalidations and GetInvalidation tell what is in progress: the free capacity.
        actions: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation', 'cloudfront:ListInvalidations'],
        resources: [this.distribution.distributionArn],
      }),
    );
    // Aged batches are reported like any failure; the topic is encrypted with the stack's key.
    dispatcher.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.failureTopic.topicArn] }),
    );
    dispatcher.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn] }),
    );
    // Receive, delete (and the attributes the mapping reads) on the deferral queue alone, plus
    // kms:Decrypt on its key: granted by the event source.
    dispatcher.addEventSource(
      new SqsEventSource(this.deferralQueue, {
        batchSize: dispatch.batchSize ?? 10_000,
        maxBatchingWindow: dispatch.maxBatchingWindow ?? Duration.seconds(20),
        maxConcurrency: 2,
        reportBatchItemFailures: true,
      }),
    );
  }

  private connectStream(props: PurgeFlowStackProps, trigger: lambda.Function): void {
    const streamArn = this.table.tableStreamArn;
    if (streamArn === undefined) {
      throw new Error('the table has no stream; enable one with NEW_AND_OLD_IMAGES');
    }
    const stream = props.stream ?? {};
    new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: trigger,
      eventSourceArn: streamArn,
      startingPosition: stream.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: stream.batchSize ?? 100,
      maxBatchingWindow: stream.maxBatchingWindow ?? Duration.seconds(5),
      // Only removals matter; filtering here means the trigger is not even invoked for the rest.
      filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('REMOVE') })],
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: stream.retryAttempts ?? 10,
      maxRecordAge: stream.maxRecordAge ?? Duration.days(1),
      onFailure: new SqsDlq(this.onFailureQueue),
    });
    // The stream poller's own calls, on this stream only (rather than CDK's grantStreamRead, which
    // puts dynamodb:ListStreams on "*").
    trigger.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
        resources: [streamArn],
      }),
    );
  }

  private createAlarms(
    trigger: lambda.Function,
    iteratorAgeThreshold: Duration,
    deferralAgeThreshold: Duration,
  ): Record<string, cloudwatch.Alarm> {
    const period = Duration.minutes(5);
    const anyAtAll = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    const alarms: Record<string, cloudwatch.Alarm> = {
      failedExecutions: this.stateMachine.metricFailed({ period, statistic: 'Sum' }).createAlarm(this, 'FailedExecutionsAlarm', {
        ...anyAtAll,
        alarmDescription: 'purge executions failed: read the failure reports (topic / failure queue) and replay them',
      }),
      timedOutExecutions: this.stateMachine
        .metricTimedOut({ period, statistic: 'Sum' })
        .createAlarm(this, 'TimedOutExecutionsAlarm', {
          ...anyAtAll,
          alarmDescription: 'purge executions hit the Express 5-minute limit: no report was sent, replay their input from the execution log',
        }),
      triggerErrors: trigger.metricErrors({ period, statistic: 'Sum' }).createAlarm(this, 'TriggerErrorsAlarm', {
        ...anyAtAll,
        alarmDescription: 'the stream trigger failed; the mapping retries and bisects, then sends records to the on-failure queue',
      }),
      iteratorAge: trigger
        .metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, 'IteratorAgeAlarm', {
          threshold: iteratorAgeThreshold.toMilliseconds(),
          evaluationPeriods: 5,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription: 'the trigger is falling behind the table stream (records expire after 24 hours)',
        }),
      onFailureQueueDepth: this.onFailureQueue
        .metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' })
        .createAlarm(this, 'OnFailureQueueDepthAlarm', {
          ...anyAtAll,
          alarmDescription: 'stream records could not be handed to the state machine; see the README runbook',
        }),
      deferralQueueAge: this.deferralQueue
        .metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, 'DeferralQueueAgeAlarm', {
          threshold: deferralAgeThreshold.toSeconds(),
          evaluationPeriods: 5,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription:
            'deferred invalidation batches are waiting: CloudFront stays full or the dispatcher fails; see the README runbook (deferral queue)',
        }),
      deferralDeadLetterDepth: this.deferralDeadLetterQueue
        .metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' })
        .createAlarm(this, 'DeferralDeadLetterDepthAlarm', {
          ...anyAtAll,
          alarmDescription: 'the dispatcher kept failing on deferred batches; see the README runbook (deferral queue)',
        }),
    };
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);
    for (const alarm of Object.values(alarms)) {
      alarm.addAlarmAction(action);
    }
    return alarms;
  }

  private createOutputs(): void {
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'FailureTopicArn', { value: this.failureTopic.topicArn });
    new CfnOutput(this, 'FailureQueueUrl', {
      value: this.failureQueue.queueUrl,
      description: 'replayable failure reports, for `purgeflow replay`',
    });
    new CfnOutput(this, 'OnFailureQueueUrl', {
      value: this.onFailureQueue.queueUrl,
      description: 'stream records the trigger could not hand over',
    });
    new CfnOutput(this, 'DeferralQueueUrl', {
      value: this.deferralQueue.queueUrl,
      description: 'invalidation batches CloudFront refused, waiting for the dispatcher',
    });
    new CfnOutput(this, 'DeferralDeadLetterQueueUrl', {
      value: this.deferralDeadLetterQueue.queueUrl,
      description: 'deferred batches the dispatcher kept failing on',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'StateMachineConsoleUrl', {
      value: `https://${this.region}.console.aws.amazon.com/states/home?region=${this.region}#/statemachines/view/${this.stateMachine.stateMachineArn}`,
      description: 'executions, their input and the "Start execution" button used to replay',
    });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
  }
}

/** The dispatcher's props, refused with a message when CloudFront or SQS would not take them. */
/** `skipDirectBacklog` with its default, checked as the Lambda checks PURGE_SKIP_DIRECT_BACKLOG. */
function checkedSkipDirectBacklog(threshold: number | undefined): number {
  const value = threshold ?? 1;
  if (!Number.isInteger(value) || value < 0 || value > 1_000_000) {
    throw new Error(
      `skipDirectBacklog ${value} must be a whole number from 0 to 1000000 (PURGE_SKIP_DIRECT_BACKLOG; 0 turns the backlog gate off)`,
    );
  }
  return value;
}

function checkedDispatch(dispatch: DispatchProps): DispatchProps {
  const reserved = dispatch.reservedWildcards;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 0 || reserved > 14)) {
    throw new Error(`dispatch.reservedWildcards ${reserved} must be a whole number from 0 to 14 (CloudFront holds 15 wildcards in progress)`);
  }
  const batchSize = dispatch.batchSize;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)) {
    throw new Error(`dispatch.batchSize ${batchSize} must be a whole number from 1 to 10000 (an SQS event source's limit)`);
  }
  const retry = dispatch.retryDelay?.toSeconds();
  if (retry !== undefined && (!Number.isInteger(retry) || retry < 1 || retry > 900)) {
    throw new Error(`dispatch.retryDelay ${retry} s must be whole seconds from 1 to 900 (PURGE_DISPATCH_RETRY_SECONDS)`);
  }
  const maxAge = dispatch.maxMessageAge?.toSeconds();
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 60 || maxAge > 14 * 24 * 3600)) {
    throw new Error(`dispatch.maxMessageAge ${maxAge} s must be whole seconds from 60 to 1209600 (PURGE_DISPATCH_MAX_AGE_SECONDS)`);
  }
  const receives = deferralMaxReceiveCount(dispatch);
  if (receives > SQS_MAX_RECEIVE_COUNT) {
    throw new Error(
      `dispatch.maxMessageAge / dispatch.retryDelay allows ${receives} receives of a deferred batch before it is reported, more than the dead-letter queue's largest maxReceiveCount (${SQS_MAX_RECEIVE_COUNT}): the dead-letter queue would take batches before they are reported; raise retryDelay or lower maxMessageAge`,
    );
  }
  return dispatch;
}

/** `purge-trigger` -> `PurgeTrigger`, for construct ids. */
function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Records a cdk-nag acknowledgement: every one carries the reason the finding is acceptable. */
function acknowledge(scope: Construct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The object-ARN wildcard as cdk-nag prints it in an IAM5 finding id, e.g.
 * `Resource::<BucketLogicalId.Arn>/images/*` or `Resource::arn:<AWS::Partition>:s3:::name/images/*`.
 */
function nagArn(bucket: s3.IBucket, prefix: string): string {
  const stack = Stack.of(bucket);
  const resolved: unknown = stack.resolve(bucket.bucketArn);
  let base: string;
  if (typeof resolved === 'string') {
    base = resolved;
  } else if (isGetAtt(resolved)) {
    base = `<${resolved['Fn::GetAtt'][0]}.${resolved['Fn::GetAtt'][1]}>`;
  } else {
    // Imported by name: arn:${AWS::Partition}:s3:::name, which cdk-nag prints with <AWS::Partition>.
    base = `arn:<AWS::Partition>:s3:::${bucket.bucketName}`;
  }
  return `${base}/${prefix}*`;
}

function isGetAtt(value: unknown): value is { 'Fn::GetAtt': [string, string] } {
  return typeof value === 'object' && value !== null && 'Fn::GetAtt' in value;
}

