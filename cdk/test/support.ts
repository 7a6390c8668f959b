/**
 * Shared by the tests: a dummy asset directory (a tiny `bootstrap` per function, so no Rust build
 * is needed), a stack factory with placeholder account and region, and template queries.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { FUNCTION_NAMES } from '../lib/rust-function';
import { PurgeFlowStack, type PurgeFlowStackProps } from '../lib/purgeflow-stack';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const EXISTING_STREAM_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/photos/stream/2026-01-01T00:00:00.000`;

let assetDir: string | undefined;

/** A directory laid out like `target/lambda`, each `bootstrap` a two-line shell script. */
export function dummyAssetDir(): string {
  if (assetDir === undefined) {
    assetDir = mkdtempSync(join(tmpdir(), 'purgeflow-assets-'));
    for (const name of FUNCTION_NAMES) {
      mkdirSync(join(assetDir, name));
      const bootstrap = join(assetDir, name, 'bootstrap');
      writeFileSync(bootstrap, '#!/bin/sh\nexit 0\n');
      chmodSync(bootstrap, 0o755);
    }
  }
  return assetDir;
}

/** The props every test starts from: nothing existing, so everything is created. */
export function baseProps(overrides: Partial<PurgeFlowStackProps> = {}): PurgeFlowStackProps {
  return {
    lambdaAssetDir: dummyAssetDir(),
    keyTemplate: '{image_key}',
    keyPrefix: 'images/',
    env: { account: ACCOUNT, region: REGION },
    ...overrides,
  };
}

/** Builds the stack in a fresh app; the outdir is a temp dir so tests never write into cdk/. */
export function buildStack(overrides: Partial<PurgeFlowStackProps> = {}): { app: App; stack: PurgeFlowStack } {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'purgeflow-cdk-out-')) });
  const stack = new PurgeFlowStack(app, 'PurgeFlow', baseProps(overrides));
  return { app, stack };
}

export function templateOf(overrides: Partial<PurgeFlowStackProps> = {}): { stack: PurgeFlowStack; template: Template } {
  const { stack } = buildStack(overrides);
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id CloudFormation gives a construct's default resource. */
export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild;
  if (child === undefined) {
    throw new Error('construct has no default child');
  }
  return stack.getLogicalId(child as Parameters<Stack['getLogicalId']>[0]);
}

/** One IAM statement, with its owner, for the scoping tests. */
export interface OwnedStatement {
  readonly owner: string;
  readonly actions: string[];
  readonly resources: unknown[];
  readonly conditions: unknown;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every statement of every identity policy: AWS::IAM::Policy, ManagedPolicy and roles' inline policies. */
export function identityStatements(template: Template): OwnedStatement[] {
  const statements: OwnedStatement[] = [];
  const collect = (owner: string, document: { Statement: Record<string, unknown>[] }) => {
    for (const statement of document.Statement) {
      statements.push({
        owner,
        actions: asArray(statement.Action as string | string[]),
        resources: asArray(statement.Resource),
        conditions: statement.Condition,
      });
    }
  };
  for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    collect(id, resource.Properties.PolicyDocument);
  }
  for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) {
    collect(id, resource.Properties.PolicyDocument);
  }
  for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const policy of resource.Properties.Policies ?? []) {
      collect(`${id}/${policy.PolicyName}`, policy.PolicyDocument);
    }
  }
  return statements;
}

/** The actions granted to a function's role, by the function's binary name. */
export function actionsOf(stack: PurgeFlowStack, template: Template, binary: keyof PurgeFlowStack['functions']): string[] {
  const roleId = logicalId(stack, stack.functions[binary].role);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((role: { Ref?: string }) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => asArray(s.Action)));
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}
