#!/usr/bin/env -S node --import tsx
/**
 * The purgeflow CDK app. Configuration comes from CDK context (see lib/context.ts), e.g.
 *
 *   npx cdk deploy -c lambdaAssetDir=../target/lambda -c keyTemplate='{image_key}' \
 *     -c tableStreamArn=arn:aws:dynamodb:... -c bucketName=my-bucket -c distributionId=E2QWRUHEXAMPLE
 *
 * cdk-nag's AwsSolutions checks run on every synth: an unacknowledged finding fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { propsFromContext } from '../lib/context';
import { PurgeFlowStack } from '../lib/purgeflow-stack';

const app = new App();
// An explicit account/region in context wins (offline synth in CI uses a placeholder account);
// otherwise the CLI's resolved credentials and region.
const account = (app.node.tryGetContext('account') as string | undefined) ?? process.env.CDK_DEFAULT_ACCOUNT;
const region = (app.node.tryGetContext('region') as string | undefined) ?? process.env.CDK_DEFAULT_REGION;
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'PurgeFlow';

new PurgeFlowStack(app, stackName, {
  ...propsFromContext((key) => app.node.tryGetContext(key)),
  env: { account, region },
  description: 'purgeflow: purge S3 objects and invalidate CloudFront paths when DynamoDB records are removed',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
