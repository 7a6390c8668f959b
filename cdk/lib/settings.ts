/**
 * The purge settings that reach the Lambdas as `PURGE_*` environment variables.
 *
 * The variable names and accepted values are the ones documented at the top of
 * `tasks/src/config.rs`; the Lambdas parse and check every variable again at init, so the checks
 * here only exist to fail `cdk synth` early, with the prop's name, instead of failing every
 * function's cold start after a deploy.
 */

/** What to do with items removed by DynamoDB's TTL (`PURGE_TTL_DELETES`). */
export type TtlDeletes = 'purge' | 'ignore';

/** How objects are deleted on a versioned bucket (`PURGE_VERSIONS`). */
export type VersionsPolicy = 'marker' | 'all';

/** The `PURGE_*` settings shared by every function. */
export interface PurgeSettings {
  /**
   * How a removed item names its object: `PURGE_KEY_TEMPLATE`, e.g. `{photo_id}.{type|subtype}`
   * (attribute `type`, falling back to `subtype`) or `{image_key}`.
   */
  readonly keyTemplate: string;
  /**
   * The only prefix purgeflow may delete under: `PURGE_KEY_PREFIX`. It also scopes the delete
   * permissions to `bucket/prefix*`, so a bad record can never reach outside it.
   *
   * @default '' (the whole bucket)
   */
  readonly keyPrefix?: string;
  /**
   * CloudFront paths to invalidate for each deleted key: `PURGE_PATH_TEMPLATES`, each a template
   * over `{key}` starting with `/`.
   *
   * @default ['/{key}']
   */
  readonly pathTemplates?: string[];
  /**
   * Whether items removed by TTL purge their objects too: `PURGE_TTL_DELETES`.
   *
   * @default 'purge'
   */
  readonly ttlDeletes?: TtlDeletes;
  /**
   * Whether ValidateRecords checks, by consistent read, that an item was not re-created since
   * its removal (a superseded record deletes nothing): `PURGE_CHECK_SUPERSEDED`. When true, the
   * validate-records function gets `dynamodb:BatchGetItem` and `dynamodb:GetItem` on the table.
   *
   * @default true
   */
  readonly checkSuperseded?: boolean;
  /**
   * On a versioned bucket, `marker` deletes the current version (S3 keeps the older ones behind
   * a delete marker); `all` lists and deletes every version, which adds `s3:ListBucketVersions`
   * and `s3:DeleteObjectVersion` to delete-objects' role: `PURGE_VERSIONS`.
   *
   * @default 'marker'
   */
  readonly versions?: VersionsPolicy;
  /**
   * Most records the trigger packs into one execution, 1 to 10000:
   * `PURGE_MAX_RECORDS_PER_EXECUTION`.
   *
   * @default 500
   */
  readonly maxRecordsPerExecution?: number;
  /**
   * How hard invalidate-cache folds a batch CloudFront refused with
   * TooManyInvalidationsInProgress, 0 to 6 (0: never): `PURGE_PRESSURE_MAX_LEVEL`. Level `k`
   * holds at most 3000/4^k file paths and max(1, 15/2^k) wildcards (tasks/src/pressure.rs).
   *
   * @default 3
   */
  readonly pressureMaxLevel?: number;
  /**
   * Whether that folding may go as far as `/*`, the whole distribution:
   * `PURGE_PRESSURE_ALLOW_ROOT`. Only matters when `keyPrefix` is empty.
   *
   * @default false
   */
  readonly pressureAllowRoot?: boolean;
  /**
   * Whether validate-records admits an execution input without a MAC:
   * `PURGE_ALLOW_UNSIGNED_INPUTS`. Off: only inputs purgeflow made (signed with the stack's
   * HMAC key by the trigger, or a report's signed replayInput) can delete. Turn it on only to
   * run an input a person wrote by hand, and off again after (see the README's runbook).
   *
   * @default false
   */
  readonly allowUnsignedInputs?: boolean;
}

/** The settings with every default applied. */
export type ResolvedSettings = Required<PurgeSettings>;

/** A stream batch holds at most 10,000 records (tasks/src/config.rs). */
export const MAX_RECORDS_PER_EXECUTION_LIMIT = 10_000;

/** The highest pressure level (tasks/src/pressure.rs MAX_LEVEL). */
export const MAX_PRESSURE_LEVEL = 6;

/** Thrown for a setting the Lambdas would refuse at init. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

// Control characters have no place in a key or path template.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Applies the defaults and checks each setting; throws a {@link SettingsError} naming the prop. */
export function resolveSettings(settings: PurgeSettings): ResolvedSettings {
  const keyTemplate = settings.keyTemplate.trim();
  if (!/\{[^{}]+\}/.test(keyTemplate) || CONTROL.test(keyTemplate)) {
    throw new SettingsError(
      `keyTemplate ${JSON.stringify(settings.keyTemplate)} is invalid; expected a template naming at least one attribute, such as "{image_key}"`,
    );
  }

  const keyPrefix = settings.keyPrefix ?? '';
  // The prefix goes verbatim into IAM resource ARNs, where * and ? are wildcards: allowing them
  // would widen the delete permission beyond the prefix the Lambdas enforce.
  if (/[*?]/.test(keyPrefix) || keyPrefix.startsWith('/') || keyPrefix.includes('..') || CONTROL.test(keyPrefix)) {
    throw new SettingsError(
      `keyPrefix ${JSON.stringify(keyPrefix)} is invalid; expected a plain S3 key prefix without a leading "/", "..", "*", "?" or control characters`,
    );
  }
  // As the Lambdas' PURGE_KEY_PREFIX check (tasks/src/config.rs): without the trailing "/",
  // "images" also matches "images-other/..." and "images.jpg", in the IAM policy too.
  if (keyPrefix !== '' && !keyPrefix.endsWith('/')) {
    throw new SettingsError(
      `keyPrefix ${JSON.stringify(keyPrefix)} is invalid; expected a prefix that ends with "/", such as ${JSON.stringify(`${keyPrefix}/`)}, or "" for the whole bucket`,
    );
  }
  if (/%[0-9A-Fa-f]{2}/.test(keyPrefix) || keyPrefix.includes('//') || /(^|\/)\.{1,2}\//.test(keyPrefix)) {
    throw new SettingsError(
      `keyPrefix ${JSON.stringify(keyPrefix)} is invalid; expected literal segments: no percent-escape, no empty, "." or ".." segment`,
    );
  }

  const pathTemplates = settings.pathTemplates ?? ['/{key}'];
  if (pathTemplates.length === 0) {
    throw new SettingsError('pathTemplates is empty; expected at least one template such as "/{key}"');
  }
  for (const template of pathTemplates) {
    // The templates travel comma-separated in one variable, so a comma would split one in two.
    if (!template.startsWith('/') || template.includes(',') || CONTROL.test(template)) {
      throw new SettingsError(
        `pathTemplates entry ${JSON.stringify(template)} is invalid; expected a path starting with "/" without commas, such as "/{key}"`,
      );
    }
    if (/[*?#]/.test(template)) {
      throw new SettingsError(
        `pathTemplates entry ${JSON.stringify(template)} is invalid; remove "*" (a CloudFront wildcard), "?" (a query string) or "#" (a fragment)`,
      );
    }
  }

  const ttlDeletes = settings.ttlDeletes ?? 'purge';
  if (ttlDeletes !== 'purge' && ttlDeletes !== 'ignore') {
    throw new SettingsError(`ttlDeletes ${JSON.stringify(ttlDeletes)} is invalid; expected "purge" or "ignore"`);
  }
  const versions = settings.versions ?? 'marker';
  if (versions !== 'marker' && versions !== 'all') {
    throw new SettingsError(`versions ${JSON.stringify(versions)} is invalid; expected "marker" or "all"`);
  }

  const maxRecordsPerExecution = settings.maxRecordsPerExecution ?? 500;
  if (
    !Number.isInteger(maxRecordsPerExecution) ||
    maxRecordsPerExecution < 1 ||
    maxRecordsPerExecution > MAX_RECORDS_PER_EXECUTION_LIMIT
  ) {
    throw new SettingsError(
      `maxRecordsPerExecution ${maxRecordsPerExecution} is invalid; expected a whole number from 1 to ${MAX_RECORDS_PER_EXECUTION_LIMIT}`,
    );
  }

  const pressureMaxLevel = settings.pressureMaxLevel ?? 3;
  if (!Number.isInteger(pressureMaxLevel) || pressureMaxLevel < 0 || pressureMaxLevel > MAX_PRESSURE_LEVEL) {
    throw new SettingsError(
      `pressureMaxLevel ${pressureMaxLevel} is invalid; expected a whole number from 0 to ${MAX_PRESSURE_LEVEL}`,
    );
  }

  return {
    keyTemplate,
    keyPrefix,
    pathTemplates,
    ttlDeletes,
    checkSuperseded: settings.checkSuperseded ?? true,
    versions,
    maxRecordsPerExecution,
    pressureMaxLevel,
    pressureAllowRoot: settings.pressureAllowRoot ?? false,
    allowUnsignedInputs: settings.allowUnsignedInputs ?? false,
  };
}

/**
 * The settings as `PURGE_*` variables. Every value is written out, defaults included, so the
 * Lambda console shows the configuration in force. `PURGE_KEY_PREFIX` is left out when empty:
 * unset and empty mean the same to the Lambdas.
 */
export function settingsEnvironment(settings: ResolvedSettings): Record<string, string> {
  const environment: Record<string, string> = {
    PURGE_KEY_TEMPLATE: settings.keyTemplate,
    PURGE_PATH_TEMPLATES: settings.pathTemplates.join(','),
    PURGE_TTL_DELETES: settings.ttlDeletes,
    PURGE_CHECK_SUPERSEDED: String(settings.checkSuperseded),
    PURGE_VERSIONS: settings.versions,
    PURGE_MAX_RECORDS_PER_EXECUTION: String(settings.maxRecordsPerExecution),
    PURGE_PRESSURE_MAX_LEVEL: String(settings.pressureMaxLevel),
    PURGE_PRESSURE_ALLOW_ROOT: String(settings.pressureAllowRoot),
    PURGE_ALLOW_UNSIGNED_INPUTS: String(settings.allowUnsignedInputs),
  };
  if (settings.keyPrefix !== '') {
    environment.PURGE_KEY_PREFIX = settings.keyPrefix;
  }
  return environment;
}
