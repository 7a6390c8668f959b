import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The seven Lambda binaries of tasks/Cargo.toml, by their `[[bin]]` name. */
export const FUNCTION_NAMES = [
  'purge-trigger',
  'validate-records',
  'delete-objects',
  'batch-paths',
  'invalidate-cache',
  'report-failures',
  'dispatch-invalidations',
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** Props of one {@link RustFunction}. */
export interface RustFunctionProps {
  /** The binary's name: its asset is `<assetDir>/<name>/bootstrap`. */
  readonly binary: FunctionName;
  /** The output directory of `cargo lambda build --release --arm64` (`target/lambda`). */
  readonly assetDir: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** The `PURGE_*` variables this function reads. */
  readonly environment: Record<string, string>;
  /** Invocation timeout. */
  readonly timeout: Duration;
  /** Memory size in MB; the binaries are small Rust programs, so the default is 128. */
  readonly memorySize?: number;
  /** Encrypts the function's log group. */
  readonly logKey: kms.IKey;
  /** How long the function's logs are kept. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * One Rust Lambda (`provided.al2023`, arm64) with its own role and its own encrypted log group.
 *
 * The role starts with nothing but writing to that log group (no managed policy, whose
 * `logs:*` on `*` would be shared by every function); the stack adds each permission the
 * function's code actually needs.
 */
export class RustFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RustFunctionProps) {
    super(scope, id);

    const codeDir = join(props.assetDir, props.binary);
    if (!existsSync(join(codeDir, 'bootstrap'))) {
      // Fail synth with the fix, instead of CDK's bare "cannot find asset".
      throw new Error(
        `${join(codeDir, 'bootstrap')} does not exist; build the Lambdas first (cdk/scripts/package-lambdas.sh, or cargo lambda build --release --arm64) and pass their output directory as lambdaAssetDir`,
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      // Logs outlive a stack deletion: they are the record of what was purged.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `purgeflow ${props.binary}: least privilege for this function only`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new lambda.Function(this, 'Function', {
      description: props.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(codeDir),
      role: this.role,
      logGroup: this.logGroup,
      environment: props.environment,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 128,
      // Active tracing continues the state machine's X-Ray trace into each task.
      tracing: lambda.Tracing.ACTIVE,
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which AWS only authorises on Resource "*" (X-Ray has no resource-level permissions)',
    });
  }
}
