//! Configuration from `PURGE_*` environment variables (shared by the Lambdas, the local runner
//! and the CDK stack, which all use exactly these names).
//!
//! | Variable | Value | Default |
//! |---|---|---|
//! | `PURGE_TABLE_NAME` | the DynamoDB table (supersede check) | required by validate-records when `PURGE_CHECK_SUPERSEDED=true` |
//! | `PURGE_BUCKET` | the S3 bucket objects are deleted from | required by validate-records |
//! | `PURGE_KEY_TEMPLATE` | key template, e.g. `{photo_id}.{type\|subtype}` or `{image_key}` | required by purge-trigger and validate-records |
//! | `PURGE_KEY_PREFIX` | the only prefix purgeflow may delete under: ends with `/`, literal, safe segments | empty: the whole bucket |
//! | `PURGE_PATH_TEMPLATES` | comma-separated CDN path templates over `{key}`, without `*`, `?` or `#` | `/{key}` |
//! | `PURGE_DISTRIBUTION_ID` | the CloudFront distribution | required by batch-paths / invalidate-cache |
//! | `PURGE_TOPIC_ARN` | the SNS topic for failure reports | required by report-failures |
//! | `PURGE_STATE_MACHINE_ARN` | the purge state machine | required by purge-trigger |
//! | `PURGE_TTL_DELETES` | `purge` \| `ignore` | `purge` |
//! | `PURGE_CHECK_SUPERSEDED` | `true` \| `false` | `true` |
//! | `PURGE_VERSIONS` | `marker` \| `all` | `marker` |
//! | `PURGE_MAX_RECORDS_PER_EXECUTION` | 1 to 10000, further capped by the CDN path bound below | `500` |
//! | `PURGE_PRESSURE_MAX_LEVEL` | 0 to 6: how hard invalidate-cache folds a batch CloudFront refused as full (`pressure.rs`); 0: never | `3` |
//! | `PURGE_PRESSURE_ALLOW_ROOT` | `true` \| `false`: whether that folding, and the dispatcher's, may reach `/*` | `false` |
//! | `PURGE_DISPATCH_RESERVED_WILDCARDS` | 0 to 14: wildcard slots the dispatcher leaves free for people | `2` |
//! | `PURGE_DISPATCH_MAX_AGE_SECONDS` | 60 to 1209600: a deferred batch not invalidated by then is reported for replay and deleted | `3600` |
//! | `PURGE_DISPATCH_FOLDED_PATHS` | 0 to 3000: the most file paths the dispatcher keeps exact in a folded invalidation (`dispatch/plan.rs`) | `0` |
//! | `PURGE_DISPATCH_RETRY_SECONDS` | 1 to 900: how soon a deferred batch the dispatcher could not cover is received again (its visibility, `dispatch/requeue.rs`) | `5` |
//! | `PURGE_DISPATCH_EXTRA_MESSAGES` | 0 to 10000: deferred batches the dispatcher receives straight from the queue beyond its event, to plan them together (`dispatch/extra.rs`) | `1000` |
//! | `PURGE_DEFERRAL_QUEUE_URL` | the deferral queue's URL | required by dispatch-invalidations; read by invalidate-cache's backlog gate (and set by `purgeflow local`) |
//! | `PURGE_SKIP_DIRECT_BACKLOG` | 0 to 1000000: invalidate-cache's first attempt skips CloudFront and defers its batch while the deferral queue holds at least this many batches (`backlog_gate.rs`); 0: never | `1` |
//! | `PURGE_MAC_KEY_ID` | the KMS HMAC key (HMAC_256) that signs execution inputs and replay inputs (`signing.rs`) | required by purge-trigger, validate-records, report-failures and the dispatcher unless `PURGE_ALLOW_UNSIGNED_INPUTS=true` |
//! | `PURGE_ALLOW_UNSIGNED_INPUTS` | `true` \| `false`: validate-records admits an execution input without a MAC (the operators' way out for a hand-written input) | `false` |
//!
//! **`PURGE_MAX_RECORDS_PER_EXECUTION` and CloudFront's limits.** The trigger packs at most
//! [`Config::max_records_per_execution_for_paths`] records into one execution:
//! `min(PURGE_MAX_RECORDS_PER_EXECUTION, floor(2985 / number of PURGE_PATH_TEMPLATES))`.
//! 2985 is [`MAX_PATHS_PER_EXECUTION`]: CloudFront's 3,000 paths in progress per distribution
//! minus its 15 wildcard paths. Each record yields at most one path per template, so BatchPaths
//! makes at most two invalidation batches of an execution (one of at most 2985 plain paths, one
//! of at most 15 wildcards, see `paths.rs`), the InvalidateCache Map (MaxConcurrency 2) runs
//! them in one wave, and one execution never has more than 3,000 paths in flight. The retry
//! budget in `tests/tests/contracts.rs` is derived from this bound. With the default `/{key}`
//! the cap is 2985 records, so only a larger setting or several templates lower it (three
//! templates: 995 records).
//!
//! Every value is parsed and checked when it is set, whichever Lambda loads it, so a typo fails
//! every function at init. Whether a resource variable must be set depends on the Lambda: each
//! binary names the ones it needs with [`Config::from_env_requiring`], and a missing one fails
//! at init with a message naming the variable and the value expected.
//!
//! `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_<SERVICE>`) is honoured by
//! aws-config itself: the binaries load the SDK config with the default chain
//! (`lambda::load_aws_config`) and never set an endpoint, so pointing everything at a local
//! server needs no purgeflow variable.

use thiserror::Error;

use crate::key_template::Template;
use crate::paths::FoldPolicy;
use crate::pressure::PressurePolicy;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{variable} is not set; expected {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    /// More than one required variable is unset: all of them are named at once, so one run
    /// tells what to set.
    #[error("{} variables are not set: {}", .0.len(), list_missing(.0))]
    MissingSeveral(Vec<Var>),
    #[error("{variable}={value:?} is invalid; expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
}

/// What to do with items removed by DynamoDB's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlPolicy {
    /// Purge their objects like any other delete.
    Purge,
    /// Leave their objects alone (reported as ignored, not as failures).
    Ignore,
}

/// How objects are deleted on a versioned bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionsPolicy {
    /// Delete the current version: S3 adds a delete marker; older versions stay.
    Marker,
    /// List every version of the key and delete each one.
    All,
}

/// One `PURGE_*` variable, for [`Config::from_env_requiring`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    TableName,
    Bucket,
    KeyTemplate,
    DistributionId,
    TopicArn,
    StateMachineArn,
    DeferralQueueUrl,
    /// The KMS HMAC key; [`Config::require_mac_key`] requires it unless unsigned inputs are
    /// allowed.
    MacKeyId,
}

impl Var {
    pub fn name(self) -> &'static str {
        match self {
            Var::TableName => TABLE_NAME,
            Var::Bucket => BUCKET,
            Var::KeyTemplate => KEY_TEMPLATE,
            Var::DistributionId => DISTRIBUTION_ID,
            Var::TopicArn => TOPIC_ARN,
            Var::StateMachineArn => STATE_MACHINE_ARN,
            Var::DeferralQueueUrl => DEFERRAL_QUEUE_URL,
            Var::MacKeyId => MAC_KEY_ID,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Var::TableName => "a DynamoDB table name (3-255 characters of A-Za-z0-9_.-)",
            Var::Bucket => "an S3 bucket name (3-63 characters of a-z0-9.-)",
            Var::KeyTemplate => {
                "a key template such as `{photo_id}.{type|subtype}` or `{image_key}`"
            }
            Var::DistributionId => "a CloudFront distribution id such as `E2QWRUHEXAMPLE`",
            Var::TopicArn => "an SNS topic ARN (arn:aws:sns:region:account:name)",
            Var::StateMachineArn => {
                "a state machine ARN (arn:aws:states:region:account:stateMachine:name)"
            }
            Var::DeferralQueueUrl => {
                "an SQS queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/purgeflow-deferred"
            }
            Var::MacKeyId => {
                "a KMS HMAC_256 key id, key ARN or alias (alias/purgeflow-mac), or PURGE_ALLOW_UNSIGNED_INPUTS=true to run without signatures"
            }
        }
    }
}

pub const TABLE_NAME: &str = "PURGE_TABLE_NAME";
pub const BUCKET: &str = "PURGE_BUCKET";
pub const KEY_TEMPLATE: &str = "PURGE_KEY_TEMPLATE";
pub const KEY_PREFIX: &str = "PURGE_KEY_PREFIX";
pub const PATH_TEMPLATES: &str = "PURGE_PATH_TEMPLATES";
pub const DISTRIBUTION_ID: &str = "PURGE_DISTRIBUTION_ID";
pub const TOPIC_ARN: &str = "PURGE_TOPIC_ARN";
pub const STATE_MACHINE_ARN: &str = "PURGE_STATE_MACHINE_ARN";
pub const TTL_DELETES: &str = "PURGE_TTL_DELETES";
pub const CHECK_SUPERSEDED: &str = "PURGE_CHECK_SUPERSEDED";
pub const VERSIONS: &str = "PURGE_VERSIONS";
pub const MAX_RECORDS_PER_EXECUTION: &str = "PURGE_MAX_RECORDS_PER_EXECUTION";
pub const PRESSURE_MAX_LEVEL: &str = "PURGE_PRESSURE_MAX_LEVEL";
pub const PRESSURE_ALLOW_ROOT: &str = "PURGE_PRESSURE_ALLOW_ROOT";
pub const DISPATCH_RESERVED_WILDCARDS: &str = "PURGE_DISPATCH_RESERVED_WILDCARDS";
pub const DISPATCH_MAX_AGE_SECONDS: &str = "PURGE_DISPATCH_MAX_AGE_SECONDS";
pub const DISPATCH_FOLDED_PATHS: &str = "PURGE_DISPATCH_FOLDED_PATHS";
pub const DISPATCH_RETRY_SECONDS: &str = "PURGE_DISPATCH_RETRY_SECONDS";
pub const DISPATCH_EXTRA_MESSAGES: &str = "PURGE_DISPATCH_EXTRA_MESSAGES";

/// `PURGE_DISPATCH_MAX_AGE_SECONDS` when unset: an hour.
pub const DEFAULT_DISPATCH_MAX_AGE_SECONDS: u64 = 3600;
/// The longest `PURGE_DISPATCH_MAX_AGE_SECONDS`: SQS keeps a message at most 14 days.
pub const MAX_DISPATCH_MAX_AGE_SECONDS: u64 = 14 * 24 * 3600;
/// `PURGE_DISPATCH_RETRY_SECONDS` when unset: 5 s.
pub const DEFAULT_DISPATCH_RETRY_SECONDS: u32 = 5;
/// The longest `PURGE_DISPATCH_RETRY_SECONDS`: 15 minutes (longer would only slow a storm down;
/// the queue's own visibility timeout is 6 minutes in the CDK stack).
pub const MAX_DISPATCH_RETRY_SECONDS: u32 = 900;
/// `PURGE_DISPATCH_EXTRA_MESSAGES` when unset: about 35 MB of 1,000-path batches beyond the
/// event's 6 MB (the CDK stack gives the dispatcher 1,024 MB).
pub const DEFAULT_DISPATCH_EXTRA_MESSAGES: usize = 1000;
pub const DEFERRAL_QUEUE_URL: &str = "PURGE_DEFERRAL_QUEUE_URL";
pub const SKIP_DIRECT_BACKLOG: &str = "PURGE_SKIP_DIRECT_BACKLOG";
/// `PURGE_SKIP_DIRECT_BACKLOG` when unset: any batch waiting on the deferral queue sends the
/// next ones there too (the start value of issue 19's second session; `purgeflow simulate`
/// measures others).
pub const DEFAULT_SKIP_DIRECT_BACKLOG: u32 = 1;
/// The largest `PURGE_SKIP_DIRECT_BACKLOG`: more batches than a storm of a million deletes makes.
pub const MAX_SKIP_DIRECT_BACKLOG: u32 = 1_000_000;
pub const MAC_KEY_ID: &str = "PURGE_MAC_KEY_ID";
pub const ALLOW_UNSIGNED_INPUTS: &str = "PURGE_ALLOW_UNSIGNED_INPUTS";

/// `PURGE_PATH_TEMPLATES` when unset.
pub const DEFAULT_PATH_TEMPLATES: &str = "/{key}";
/// `PURGE_MAX_RECORDS_PER_EXECUTION` when unset: a projected record is a few hundred bytes, so
/// 500 stay well under the trigger's ~200 KiB input budget, and under DeleteObjects' 1000 keys.
pub const DEFAULT_MAX_RECORDS_PER_EXECUTION: usize = 500;
/// A stream batch holds at most 10,000 records, so a larger limit could never be reached.
pub const MAX_MAX_RECORDS_PER_EXECUTION: usize = 10_000;
/// The most CDN paths one execution may yield: CloudFront's 3,000 paths in progress per
/// distribution, less its 15 wildcard paths, so plain paths fill one batch and folded wildcards
/// one more (see the module docs).
pub const MAX_PATHS_PER_EXECUTION: usize =
    crate::paths::CLOUDFRONT_MAX_PATHS_PER_BATCH - crate::paths::CLOUDFRONT_MAX_WILDCARD_PATHS;

/// The whole configuration. Resource identifiers are `None` when unset; the accessors
/// ([`Config::bucket`], ...) turn that into the named [`ConfigError::Missing`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table_name: Option<String>,
    pub bucket: Option<String>,
    pub key_template: Option<Template>,
    /// Empty: the whole bucket.
    pub key_prefix: String,
    /// Never empty; each renders `{key}` into a CDN path starting with `/`.
    pub path_templates: Vec<Template>,
    pub distribution_id: Option<String>,
    pub topic_arn: Option<String>,
    pub state_machine_arn: Option<String>,
    pub ttl_deletes: TtlPolicy,
    pub check_superseded: bool,
    pub versions: VersionsPolicy,
    pub max_records_per_execution: usize,
    /// How hard a batch is folded when CloudFront is full.
    pub pressure: PressurePolicy,
    /// How the dispatcher drains the deferral queue.
    pub dispatch: DispatchSettings,
    /// The deferral queue's URL (`PURGE_DEFERRAL_QUEUE_URL`), for `purgeflow local`, whose
    /// engine sends refused batches there; in AWS the state machine's definition names the queue.
    pub deferral_queue_url: Option<String>,
    /// `PURGE_SKIP_DIRECT_BACKLOG`: the backlog on the deferral queue from which invalidate-cache
    /// defers a batch without asking CloudFront (`backlog_gate.rs`); 0: the gate is off.
    pub skip_direct_backlog: u32,
    /// The KMS HMAC key that signs and verifies execution inputs (`PURGE_MAC_KEY_ID`).
    pub mac_key_id: Option<String>,
    /// `PURGE_ALLOW_UNSIGNED_INPUTS`: validate-records admits an input without a MAC. Off by
    /// default: only inputs purgeflow made can delete (see `signing.rs`).
    pub allow_unsigned_inputs: bool,
}

/// The dispatcher's `PURGE_DISPATCH_*` settings (see `dispatch/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchSettings {
    /// Wildcard slots left free for people.
    pub reserved_wildcards: usize,
    /// A deferred batch older than this that is still not invalidated is reported and deleted.
    pub max_age_seconds: u64,
    /// The most file paths a folded invalidation keeps exact.
    pub folded_paths: usize,
    /// The visibility, in seconds, of a message the dispatcher returns uncovered: how soon it
    /// is received again.
    pub retry_seconds: u32,
    /// Messages received straight from the queue beyond the event, planned with it.
    pub extra_messages: usize,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            reserved_wildcards: crate::dispatch::DEFAULT_RESERVED_WILDCARDS,
            max_age_seconds: DEFAULT_DISPATCH_MAX_AGE_SECONDS,
            folded_paths: crate::dispatch::DEFAULT_FOLDED_PATHS,
            retry_seconds: DEFAULT_DISPATCH_RETRY_SECONDS,
            extra_messages: DEFAULT_DISPATCH_EXTRA_MESSAGES,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the process environment and fails unless every variable in `required` is set:
    /// what each Lambda calls at init.
    pub fn from_env_requiring(required: &[Var]) -> Result<Self, ConfigError> {
        let config = Self::from_env()?;
        config.require(required)?;
        Ok(config)
    }

    /// Reads variables through `lookup`, so tests never touch the process environment.
    /// An empty value counts as unset, except for `PURGE_KEY_PREFIX` where empty is meaningful.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let key_template = get(KEY_TEMPLATE)
            .map(|v| parse_key_template(&v))
            .transpose()?;
        let path_templates = parse_path_templates(
            &get(PATH_TEMPLATES).unwrap_or_else(|| DEFAULT_PATH_TEMPLATES.into()),
        )?;
        let key_prefix = lookup(KEY_PREFIX).unwrap_or_default();
        check_key_prefix(&key_prefix)?;

        Ok(Config {
            table_name: get(TABLE_NAME)
                .map(|v| checked(Var::TableName, v, is_table_name))
                .transpose()?,
            bucket: get(BUCKET)
                .map(|v| checked(Var::Bucket, v, is_bucket_name))
                .transpose()?,
            key_template,
            key_prefix,
            path_templates,
            distribution_id: get(DISTRIBUTION_ID)
                .map(|v| checked(Var::DistributionId, v, is_distribution_id))
                .transpose()?,
            topic_arn: get(TOPIC_ARN)
                .map(|v| checked(Var::TopicArn, v, |v| is_arn(v, "sns")))
                .transpose()?,
            state_machine_arn: get(STATE_MACHINE_ARN)
                .map(|v| {
                    checked(Var::StateMachineArn, v, |v| {
                        is_arn(v, "states") && v.contains(":stateMachine:")
                    })
                })
                .transpose()?,
            ttl_deletes: match get(TTL_DELETES).as_deref() {
                None | Some("purge") => TtlPolicy::Purge,
                Some("ignore") => TtlPolicy::Ignore,
                Some(other) => return Err(invalid(TTL_DELETES, other, "`purge` or `ignore`")),
            },
            check_superseded: match get(CHECK_SUPERSEDED).as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => return Err(invalid(CHECK_SUPERSEDED, other, "`true` or `false`")),
            },
            versions: match get(VERSIONS).as_deref() {
                None | Some("marker") => VersionsPolicy::Marker,
                Some("all") => VersionsPolicy::All,
                Some(other) => return Err(invalid(VERSIONS, other, "`marker` or `all`")),
            },
            max_records_per_execution: match get(MAX_RECORDS_PER_EXECUTION) {
                None => DEFAULT_MAX_RECORDS_PER_EXECUTION,
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if (1..=MAX_MAX_RECORDS_PER_EXECUTION).contains(&n) => n,
                    _ => {
                        return Err(invalid(
                            MAX_RECORDS_PER_EXECUTION,
                            &v,
                            "a whole number from 1 to 10000",
                        ));
                    }
                },
            },
            pressure: PressurePolicy {
                max_level: match get(PRESSURE_MAX_LEVEL) {
                    None => crate::pressure::DEFAULT_MAX_LEVEL,
                    Some(v) => match v.trim().parse::<u32>() {
                        Ok(n) if n <= crate::pressure::MAX_LEVEL => n,
                        _ => {
                            return Err(invalid(
                                PRESSURE_MAX_LEVEL,
                                &v,
                                "a whole number from 0 to 6",
                            ));
                        }
                    },
                },
                allow_root: match get(PRESSURE_ALLOW_ROOT).as_deref() {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(other) => {
                        return Err(invalid(PRESSURE_ALLOW_ROOT, other, "`true` or `false`"));
                    }
                },
            },
            dispatch: DispatchSettings {
                reserved_wildcards: number(
                    get(DISPATCH_RESERVED_WILDCARDS),
                    DISPATCH_RESERVED_WILDCARDS,
                    0..=14,
                )?
                .unwrap_or(crate::dispatch::DEFAULT_RESERVED_WILDCARDS),
                max_age_seconds: number(
                    get(DISPATCH_MAX_AGE_SECONDS),
                    DISPATCH_MAX_AGE_SECONDS,
                    60..=MAX_DISPATCH_MAX_AGE_SECONDS,
                )?
                .unwrap_or(DEFAULT_DISPATCH_MAX_AGE_SECONDS),
                folded_paths: number(
                    get(DISPATCH_FOLDED_PATHS),
                    DISPATCH_FOLDED_PATHS,
                    0..=crate::paths::CLOUDFRONT_MAX_PATHS_PER_BATCH,
                )?
                .unwrap_or(crate::dispatch::DEFAULT_FOLDED_PATHS),
                retry_seconds: number(
                    get(DISPATCH_RETRY_SECONDS),
                    DISPATCH_RETRY_SECONDS,
                    1..=MAX_DISPATCH_RETRY_SECONDS,
                )?
                .unwrap_or(DEFAULT_DISPATCH_RETRY_SECONDS),
                extra_messages: number(
                    get(DISPATCH_EXTRA_MESSAGES),
                    DISPATCH_EXTRA_MESSAGES,
                    0..=10_000,
                )?
                .unwrap_or(DEFAULT_DISPATCH_EXTRA_MESSAGES),
            },
            deferral_queue_url: match get(DEFERRAL_QUEUE_URL) {
                None => None,
                Some(v) if is_queue_url(&v) => Some(v),
                Some(v) => {
                    return Err(invalid(
                        DEFERRAL_QUEUE_URL,
                        &v,
                        "an SQS queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/purgeflow-deferred",
                    ));
                }
            },
            skip_direct_backlog: number(
                get(SKIP_DIRECT_BACKLOG),
                SKIP_DIRECT_BACKLOG,
                0..=MAX_SKIP_DIRECT_BACKLOG,
            )?
            .unwrap_or(DEFAULT_SKIP_DIRECT_BACKLOG),
            mac_key_id: get(MAC_KEY_ID)
                .map(|v| checked(Var::MacKeyId, v, is_kms_key_id))
                .transpose()?,
            allow_unsigned_inputs: match get(ALLOW_UNSIGNED_INPUTS).as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(invalid(ALLOW_UNSIGNED_INPUTS, other, "`true` or `false`"));
                }
            },
        })
    }

    /// How the dispatcher may fold: inside [`Config::fold_policy`]'s area, to the root only
    /// with `PURGE_PRESSURE_ALLOW_ROOT`, keeping `PURGE_DISPATCH_FOLDED_PATHS` exact.
    pub fn plan_policy(&self) -> crate::dispatch::PlanPolicy {
        crate::dispatch::PlanPolicy {
            area: self.fold_policy(),
            allow_root: self.pressure.allow_root,
            folded_paths: self.dispatch.folded_paths,
        }
    }

    /// The fold policy with wildcards kept inside what `PURGE_KEY_PREFIX` lets purgeflow purge
    /// (through each of `PURGE_PATH_TEMPLATES`): what batch-paths folds with, and the area
    /// invalidate-cache may fold into under pressure.
    pub fn fold_policy(&self) -> FoldPolicy {
        let prefixes =
            crate::batch_paths::wildcard_prefixes(&self.key_prefix, &self.path_templates);
        FoldPolicy::within(prefixes.iter().map(String::as_str))
    }

    /// The records the trigger packs into one execution at most:
    /// `PURGE_MAX_RECORDS_PER_EXECUTION`, capped so that every record's paths (one per path
    /// template) fit in [`MAX_PATHS_PER_EXECUTION`]. See the module docs for why.
    pub fn max_records_per_execution_for_paths(&self) -> usize {
        let paths_per_record = self.path_templates.len().max(1);
        self.max_records_per_execution
            .min(MAX_PATHS_PER_EXECUTION / paths_per_record)
            .max(1)
    }

    /// The variables `purgeflow local` needs from the environment before it touches anything:
    /// the table it reads, and everything the five task handlers need, less what `--provision`
    /// creates when it is unset (the distribution and the topic). The MAC key
    /// (`PURGE_MAC_KEY_ID`) is required too unless `PURGE_ALLOW_UNSIGNED_INPUTS=true` or
    /// `--provision` creates it: [`Config::require_mac_key`].
    pub fn local_requirements(provisioning: bool) -> &'static [Var] {
        if provisioning {
            &[Var::TableName, Var::Bucket, Var::KeyTemplate]
        } else {
            &[
                Var::TableName,
                Var::Bucket,
                Var::KeyTemplate,
                Var::DistributionId,
                Var::TopicArn,
            ]
        }
    }

    /// Fails unless every variable in `required` is set: [`ConfigError::Missing`] for one
    /// unset variable, [`ConfigError::MissingSeveral`] naming all of them for more.
    pub fn require(&self, required: &[Var]) -> Result<(), ConfigError> {
        let mut unset: Vec<Var> = Vec::new();
        for &var in required {
            let set = match var {
                Var::TableName => self.table_name.is_some(),
                Var::Bucket => self.bucket.is_some(),
                Var::KeyTemplate => self.key_template.is_some(),
                Var::DistributionId => self.distribution_id.is_some(),
                Var::TopicArn => self.topic_arn.is_some(),
                Var::StateMachineArn => self.state_machine_arn.is_some(),
                Var::DeferralQueueUrl => self.deferral_queue_url.is_some(),
                Var::MacKeyId => self.mac_key_id.is_some(),
            };
            if !set && !unset.contains(&var) {
                unset.push(var);
            }
        }
        match unset.as_slice() {
            [] => Ok(()),
            [one] => Err(missing(*one)),
            _ => Err(ConfigError::MissingSeveral(unset)),
        }
    }

    pub fn table_name(&self) -> Result<&str, ConfigError> {
        self.table_name.as_deref().ok_or(missing(Var::TableName))
    }

    pub fn bucket(&self) -> Result<&str, ConfigError> {
        self.bucket.as_deref().ok_or(missing(Var::Bucket))
    }

    pub fn key_template(&self) -> Result<&Template, ConfigError> {
        self.key_template.as_ref().ok_or(missing(Var::KeyTemplate))
    }

    pub fn distribution_id(&self) -> Result<&str, ConfigError> {
        self.distribution_id
            .as_deref()
            .ok_or(missing(Var::DistributionId))
    }

    pub fn topic_arn(&self) -> Result<&str, ConfigError> {
        self.topic_arn.as_deref().ok_or(missing(Var::TopicArn))
    }

    /// What every function that signs or verifies calls at init: `PURGE_MAC_KEY_ID` must be
    /// set, unless `PURGE_ALLOW_UNSIGNED_INPUTS=true` (then inputs may go unsigned).
    pub fn require_mac_key(&self) -> Result<(), ConfigError> {
        if self.allow_unsigned_inputs {
            Ok(())
        } else {
            self.require(&[Var::MacKeyId])
        }
    }

    pub fn state_machine_arn(&self) -> Result<&str, ConfigError> {
        self.state_machine_arn
            .as_deref()
            .ok_or(missing(Var::StateMachineArn))
    }
}

/// A KMS key id (UUID or multi-Region `mrk-` id), key ARN, alias name or alias ARN: what
/// GenerateMac and VerifyMac take as `KeyId`.
fn is_kms_key_id(value: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | ':');
    !value.is_empty()
        && value.len() <= 2048
        && value.chars().all(plain)
        && (value.starts_with("arn:") || value.starts_with("alias/") || !value.contains(['/', ':']))
}

/// `PURGE_A (expected ...); PURGE_B (expected ...)`.
fn list_missing(vars: &[Var]) -> String {
    vars.iter()
        .map(|var| format!("{} (expected {})", var.name(), var.expected()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn missing(var: Var) -> ConfigError {
    ConfigError::Missing {
        variable: var.name(),
        expected: var.expected(),
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// A whole number in `range`, or `None` when unset.
fn number<T>(
    value: Option<String>,
    variable: &'static str,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(invalid(
            variable,
            &value,
            &format!("a whole number from {} to {}", range.start(), range.end()),
        )),
    }
}

fn checked(var: Var, value: String, ok: impl Fn(&str) -> bool) -> Result<String, ConfigError> {
    if ok(&value) {
        Ok(value)
    } else {
        Err(invalid(var.name(), &value, var.expected()))
    }
}

/// A key template must insert at least one attribute: a constant key would delete the same
/// object for every record.
fn parse_key_template(value: &str) -> Result<Template, ConfigError> {
    let template = Template::parse(value)
        .map_err(|e| invalid(KEY_TEMPLATE, value, &format!("a valid key template ({e})")))?;
    if template.fields().is_empty() {
        return Err(invalid(
            KEY_TEMPLATE,
            value,
            "a template that inserts at least one attribute, e.g. `{image_key}`",
        ));
    }
    Ok(template)
}

fn parse_path_templates(value: &str) -> Result<Vec<Template>, ConfigError> {
    let expected = "comma-separated paths starting with `/` that use only `{key}`, e.g. `/{key},/thumbs/{key}`";
    // One record's paths must fit in one execution's path bound (see the module docs).
    let count = value.split(',').count();
    if count > MAX_PATHS_PER_EXECUTION {
        return Err(invalid(
            PATH_TEMPLATES,
            &format!("<{count} templates>"),
            &format!(
                "at most {MAX_PATHS_PER_EXECUTION} path templates, CloudFront's in-progress path limit less its wildcards"
            ),
        ));
    }
    value
        .split(',')
        .map(str::trim)
        .map(|one| {
            let template = Template::parse(one)
                .map_err(|e| invalid(PATH_TEMPLATES, value, &format!("{expected} ({e})")))?;
            let fields = template.fields();
            if !one.starts_with('/') || fields != ["key"] {
                return Err(invalid(PATH_TEMPLATES, value, expected));
            }
            // To CloudFront `*` is a wildcard (it would invalidate more than the object), `?`
            // starts a query string and `#` a fragment: the path would not be the object's.
            if one.contains(['*', '?', '#']) {
                return Err(invalid(
                    PATH_TEMPLATES,
                    value,
                    &format!(
                        "path templates without `*` (a CloudFront wildcard), `?` (a query \
                         string) or `#` (a fragment): remove it from `{one}`"
                    ),
                ));
            }
            Ok(template)
        })
        .collect()
}

/// The prefix is compared byte for byte with computed keys, and it bounds every CDN wildcard
/// purgeflow sends, so a prefix that can only hurt is refused with its fix:
/// - it must end with `/`: `images` also matches `images-other/x.jpg` and `images.jpg`;
/// - it is literal: a percent-escape (`%2e`, `%2F`) would be one name to S3 and another to a CDN
///   or origin that decodes it;
/// - each of its segments must be one a key may have (`key_safety`'s rules, all of them): no
///   empty, `.` or `..` segment in any form a client, CDN or origin could normalise it to, no
///   leading `/`, wildcards or control characters.
fn check_key_prefix(prefix: &str) -> Result<(), ConfigError> {
    if prefix.is_empty() {
        return Ok(());
    }
    if has_percent_escape(prefix) {
        return Err(invalid(
            KEY_PREFIX,
            prefix,
            "a literal prefix: write each character itself, not a percent-escape such as `%2e` \
             or `%2F` (S3 compares keys literally, CDNs and origins decode them)",
        ));
    }
    let Some(directory) = prefix.strip_suffix('/') else {
        return Err(invalid(
            KEY_PREFIX,
            prefix,
            &format!(
                "a prefix that ends with `/`, such as `{prefix}/`: without it, `{prefix}` also \
                 matches `{prefix}-other/...` and `{prefix}.jpg`; or empty for the whole bucket"
            ),
        ));
    };
    crate::key_safety::check_key(directory, "").map_err(|err| {
        let why = match err {
            crate::key_safety::KeySafetyError::UnsafeKey { why, .. } => why,
            crate::key_safety::KeySafetyError::KeyOutsidePrefix { .. } => {
                "outside itself".to_owned()
            }
        };
        invalid(
            KEY_PREFIX,
            prefix,
            &format!(
                "an S3 key prefix such as `images/` whose segments are all safe key segments \
                 (this one {why}: no leading `/`, no empty, `.` or `..` segment, no `*`, `?` or \
                 control characters), or empty for the whole bucket"
            ),
        )
    })
}

/// `%` followed by two hex digits anywhere in `value`.
fn has_percent_escape(value: &str) -> bool {
    value
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

fn is_bucket_name(v: &str) -> bool {
    (3..=63).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

fn is_table_name(v: &str) -> bool {
    // A table ARN is accepted too: GetItem takes either.
    v.starts_with("arn:")
        || ((3..=255).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
}

fn is_distribution_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 32
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `arn:<partition>:<service>:...` with non-empty partition.
/// `http(s)://HOST/ACCOUNT/NAME` (a local endpoint may be plain http).
fn is_queue_url(v: &str) -> bool {
    let Some(rest) = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && !p.contains(char::is_whitespace))
}

fn is_arn(v: &str, service: &str) -> bool {
    let mut parts = v.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next().is_some_and(|p| !p.is_empty())
        && parts.next() == Some(service)
        && parts.nth(1).is_some()
        && parts.next().is_some_and(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_deferral_queue_url_must_be_a_queue_url() {
        let read = |value: &str| {
            Config::from_lookup(|name| (name == DEFERRAL_QUEUE_URL).then(|| value.to_owned()))
        };
        for url in [
            "https://sqs.us-east-1.amazonaws.com/123456789012/purgeflow-deferred",
            "http://127.0.0.1:5000/000000000000/purgeflow-deferred",
        ] {
            assert_eq!(
                read(url)
                    .expect("a queue URL")
                    .deferral_queue_url
                    .as_deref(),
                Some(url)
            );
        }
        for bad in [
            "purgeflow-deferred",
            "arn:aws:sqs:us-east-1:123456789012:purgeflow-deferred",
            "https://sqs.us-east-1.amazonaws.com/purgeflow-deferred",
            "ftp://host/1/q",
        ] {
            let err = read(bad).expect_err(bad);
            assert!(err.to_string().contains(DEFERRAL_QUEUE_URL), "{err}");
        }
        assert_eq!(read("").expect("empty is unset").deferral_queue_url, None);
    }

    const SM_ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:purge";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn message(vars: &[(&str, &str)]) -> String {
        config(vars).expect_err("must be rejected").to_string()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.key_prefix, "");
        assert_eq!(c.path_templates.len(), 1);
        assert_eq!(c.path_templates[0].source(), "/{key}");
        assert_eq!(c.ttl_deletes, TtlPolicy::Purge);
        assert!(c.check_superseded);
        assert_eq!(c.versions, VersionsPolicy::Marker);
        assert_eq!(c.max_records_per_execution, 500);
        assert!(c.bucket.is_none() && c.state_machine_arn.is_none());
    }

    #[test]
    fn full_configuration() {
        let c = config(&[
            (TABLE_NAME, "photos"),
            (BUCKET, "photo-bucket"),
            (KEY_TEMPLATE, "{photo_id}.{type|subtype}"),
            (KEY_PREFIX, "images/"),
            (PATH_TEMPLATES, "/{key}, /thumbs/{key}"),
            (DISTRIBUTION_ID, "E2QWRUHEXAMPLE"),
            (
                TOPIC_ARN,
                "arn:aws:sns:eu-west-1:123456789012:purge-failures",
            ),
            (STATE_MACHINE_ARN, SM_ARN),
            (TTL_DELETES, "ignore"),
            (CHECK_SUPERSEDED, "false"),
            (VERSIONS, "all"),
            (MAX_RECORDS_PER_EXECUTION, "250"),
        ])
        .expect("valid");
        assert_eq!(c.table_name().ok(), Some("photos"));
        assert_eq!(c.bucket().ok(), Some("photo-bucket"));
        assert_eq!(
            c.key_template().map(|t| t.fields()).ok(),
            Some(vec!["photo_id", "type"])
        );
        assert_eq!(c.key_prefix, "images/");
        let paths: Vec<&str> = c.path_templates.iter().map(Template::source).collect();
        assert_eq!(paths, ["/{key}", "/thumbs/{key}"]);
        assert_eq!(c.distribution_id().ok(), Some("E2QWRUHEXAMPLE"));
        assert!(c.topic_arn().is_ok());
        assert_eq!(c.state_machine_arn().ok(), Some(SM_ARN));
        assert_eq!(c.ttl_deletes, TtlPolicy::Ignore);
        assert!(!c.check_superseded);
        assert_eq!(c.versions, VersionsPolicy::All);
        assert_eq!(c.max_records_per_execution, 250);
        c.require(&[
            Var::TableName,
            Var::Bucket,
            Var::KeyTemplate,
            Var::DistributionId,
            Var::TopicArn,
            Var::StateMachineArn,
        ])
        .expect("all set");
    }

    #[test]
    fn missing_required_variable_is_named_with_what_is_expected() {
        let c = config(&[(BUCKET, "b-1")]).expect("valid");
        let err = c
            .require(&[Var::Bucket, Var::StateMachineArn])
            .expect_err("arn missing");
        assert_eq!(
            err.to_string(),
            "PURGE_STATE_MACHINE_ARN is not set; expected a state machine ARN (arn:aws:states:region:account:stateMachine:name)"
        );
        let err = c.key_template().expect_err("unset").to_string();
        assert!(
            err.starts_with("PURGE_KEY_TEMPLATE is not set; expected a key template"),
            "{err}"
        );
        // An empty value is unset.
        let c = config(&[(BUCKET, "  ")]).expect("valid");
        assert!(
            c.bucket()
                .expect_err("empty")
                .to_string()
                .starts_with("PURGE_BUCKET is not set")
        );
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let config = config(&[("PURGE_BUCKET", "photos")]).expect("valid");
        let err = config
            .require(&[
                Var::Bucket,
                Var::DistributionId,
                Var::TopicArn,
                Var::TopicArn,
            ])
            .expect_err("two are unset")
            .to_string();
        assert_eq!(
            err,
            "2 variables are not set: PURGE_DISTRIBUTION_ID (expected a CloudFront distribution id such as `E2QWRUHEXAMPLE`); PURGE_TOPIC_ARN (expected an SNS topic ARN (arn:aws:sns:region:account:name))"
        );
    }

    #[test]
    fn invalid_enumerations_name_variable_value_and_choices() {
        assert_eq!(
            message(&[(TTL_DELETES, "delete")]),
            "PURGE_TTL_DELETES=\"delete\" is invalid; expected `purge` or `ignore`"
        );
        assert_eq!(
            message(&[(CHECK_SUPERSEDED, "yes")]),
            "PURGE_CHECK_SUPERSEDED=\"yes\" is invalid; expected `true` or `false`"
        );
        assert_eq!(
            message(&[(VERSIONS, "latest")]),
            "PURGE_VERSIONS=\"latest\" is invalid; expected `marker` or `all`"
        );
    }

    #[test]
    fn max_records_must_be_in_range() {
        for bad in ["0", "-1", "ten", "10001", "1.5"] {
            let m = message(&[(MAX_RECORDS_PER_EXECUTION, bad)]);
            assert!(
                m.starts_with(&format!(
                    "PURGE_MAX_RECORDS_PER_EXECUTION=\"{bad}\" is invalid"
                )),
                "{m}"
            );
            assert!(
                m.ends_with("expected a whole number from 1 to 10000"),
                "{m}"
            );
        }
        assert_eq!(
            config(&[(MAX_RECORDS_PER_EXECUTION, "10000")])
                .map(|c| c.max_records_per_execution)
                .ok(),
            Some(10_000)
        );
    }

    #[test]
    fn the_dispatch_settings_default_and_are_checked() {
        let c = config(&[]).expect("valid");
        assert_eq!(c.dispatch, DispatchSettings::default());
        assert_eq!(
            (
                c.dispatch.reserved_wildcards,
                c.dispatch.max_age_seconds,
                c.dispatch.folded_paths
            ),
            (2, 3600, 0)
        );
        assert_eq!(c.dispatch.retry_seconds, 5);
        assert_eq!(c.dispatch.extra_messages, 1000);
        let c = config(&[
            (DISPATCH_RESERVED_WILDCARDS, "0"),
            (DISPATCH_MAX_AGE_SECONDS, "600"),
            (DISPATCH_FOLDED_PATHS, "3000"),
            (DISPATCH_RETRY_SECONDS, "30"),
            (DISPATCH_EXTRA_MESSAGES, "0"),
            (PRESSURE_ALLOW_ROOT, "true"),
        ])
        .expect("valid");
        assert_eq!(c.dispatch.retry_seconds, 30);
        assert_eq!(c.dispatch.extra_messages, 0);
        assert_eq!(
            (
                c.dispatch.reserved_wildcards,
                c.dispatch.max_age_seconds,
                c.dispatch.folded_paths
            ),
            (0, 600, 3000)
        );
        assert!(c.plan_policy().allow_root);
        assert_eq!(c.plan_policy().folded_paths, 3000);
        for (variable, bad, expected) in [
            (DISPATCH_RESERVED_WILDCARDS, "15", "from 0 to 14"),
            (DISPATCH_MAX_AGE_SECONDS, "59", "from 60 to 1209600"),
            (DISPATCH_MAX_AGE_SECONDS, "1h", "from 60 to 1209600"),
            (DISPATCH_FOLDED_PATHS, "3001", "from 0 to 3000"),
            (DISPATCH_RETRY_SECONDS, "0", "from 1 to 900"),
            (DISPATCH_RETRY_SECONDS, "901", "from 1 to 900"),
            (DISPATCH_EXTRA_MESSAGES, "10001", "from 0 to 10000"),
        ] {
            assert_eq!(
                message(&[(variable, bad)]),
                format!("{variable}=\"{bad}\" is invalid; expected a whole number {expected}")
            );
        }
    }

    #[test]
    fn the_backlog_gate_threshold_defaults_to_1_and_is_checked() {
        assert_eq!(config(&[]).expect("valid").skip_direct_backlog, 1);
        for (value, read) in [("0", 0), ("25", 25), ("1000000", 1_000_000)] {
            assert_eq!(
                config(&[(SKIP_DIRECT_BACKLOG, value)])
                    .expect("valid")
                    .skip_direct_backlog,
                read
            );
        }
        for bad in ["-1", "1000001", "some", "1.5"] {
            assert_eq!(
                message(&[(SKIP_DIRECT_BACKLOG, bad)]),
                format!(
                    "PURGE_SKIP_DIRECT_BACKLOG=\"{bad}\" is invalid; expected a whole number from 0 to 1000000"
                )
            );
        }
    }

    #[test]
    fn the_pressure_policy_defaults_to_level_3_without_the_root_and_is_checked() {
        let c = config(&[]).expect("valid");
        assert_eq!(c.pressure, PressurePolicy::default());
        assert_eq!((c.pressure.max_level, c.pressure.allow_root), (3, false));
        let c = config(&[(PRESSURE_MAX_LEVEL, "0"), (PRESSURE_ALLOW_ROOT, "true")]).expect("valid");
        assert_eq!((c.pressure.max_level, c.pressure.allow_root), (0, true));
        for bad in ["7", "-1", "high"] {
            assert_eq!(
                message(&[(PRESSURE_MAX_LEVEL, bad)]),
                format!(
                    "PURGE_PRESSURE_MAX_LEVEL=\"{bad}\" is invalid; expected a whole number from 0 to 6"
                )
            );
        }
        assert_eq!(
            message(&[(PRESSURE_ALLOW_ROOT, "yes")]),
            "PURGE_PRESSURE_ALLOW_ROOT=\"yes\" is invalid; expected `true` or `false`"
        );
    }

    #[test]
    fn the_record_limit_keeps_every_execution_within_cloudfronts_path_limit() {
        let limit = |max: &str, templates: &str| {
            config(&[
                (MAX_RECORDS_PER_EXECUTION, max),
                (PATH_TEMPLATES, templates),
            ])
            .expect("valid")
            .max_records_per_execution_for_paths()
        };
        assert_eq!(MAX_PATHS_PER_EXECUTION, 2985);
        assert_eq!(limit("500", "/{key}"), 500, "the default is not lowered");
        assert_eq!(limit("10000", "/{key}"), 2985);
        assert_eq!(limit("10000", "/{key},/thumbs/{key},/small/{key}"), 995);
        assert_eq!(limit("900", "/{key},/thumbs/{key},/small/{key}"), 900);
        let many: Vec<String> = (0..MAX_PATHS_PER_EXECUTION)
            .map(|i| format!("/{i}/{{key}}"))
            .collect();
        assert_eq!(limit("500", &many.join(",")), 1);
        let too_many = format!("{},/x/{{key}}", many.join(","));
        let m = message(&[(PATH_TEMPLATES, &too_many)]);
        assert!(m.contains("at most 2985 path templates"), "{m}");
    }

    #[test]
    fn key_template_errors_are_explained() {
        let m = message(&[(KEY_TEMPLATE, "{photo_id")]);
        assert!(
            m.starts_with(
                "PURGE_KEY_TEMPLATE=\"{photo_id\" is invalid; expected a valid key template"
            ),
            "{m}"
        );
        assert!(m.contains("never closed"), "{m}");
        let m = message(&[(KEY_TEMPLATE, "{type|upper}")]);
        assert!(m.contains("unknown filter `upper`"), "{m}");
        let m = message(&[(KEY_TEMPLATE, "static.jpg")]);
        assert!(m.contains("at least one attribute"), "{m}");
    }

    #[test]
    fn path_templates_must_start_with_slash_and_use_only_key() {
        for bad in ["{key}", "/{other}", "/a,", "/{key},thumbs/{key}", "/static"] {
            let m = message(&[(PATH_TEMPLATES, bad)]);
            assert!(m.starts_with("PURGE_PATH_TEMPLATES="), "{bad}: {m}");
            assert!(m.contains("use only `{key}`"), "{bad}: {m}");
        }
    }

    #[test]
    fn key_prefix_must_be_safe() {
        for bad in ["/images/", "images/../", "img*", "a\nb", "./x"] {
            let m = message(&[(KEY_PREFIX, bad)]);
            assert!(m.starts_with("PURGE_KEY_PREFIX="), "{bad}: {m}");
        }
        assert_eq!(
            config(&[(KEY_PREFIX, "images/")])
                .map(|c| c.key_prefix)
                .ok()
                .as_deref(),
            Some("images/")
        );
    }

    /// Each of these was accepted and could only hurt; each is refused with a message that
    /// names the variable and the fix.
    #[test]
    fn a_prefix_that_can_only_hurt_is_refused_with_its_fix() {
        // Without the trailing `/`, `images` purges `images-other/x.jpg` and `images.jpg`.
        assert_eq!(
            message(&[(KEY_PREFIX, "images")]),
            "PURGE_KEY_PREFIX=\"images\" is invalid; expected a prefix that ends with `/`, such \
             as `images/`: without it, `images` also matches `images-other/...` and \
             `images.jpg`; or empty for the whole bucket"
        );
        for (bad, fix) in [
            ("images//", "has an empty segment"),
            ("/images/", "starts with `/`"),
            ("a/./b/", "has a `.` segment"),
            ("images/../", "has a `..` segment"),
            ("./", "has a `.` segment"),
            ("../", "has a `..` segment"),
            ("images/.../", "made only of dots"),
            ("images/\u{FF0E}\u{FF0E}/", "NFKC"),
            ("images/%2e%2e/", "a literal prefix"),
            ("images%2F", "a literal prefix"),
            ("images%2f/", "a literal prefix"),
            ("im%41ges/", "a literal prefix"),
            ("img*/", "`*` or `?`"),
            ("a\nb/", "control character"),
        ] {
            let m = message(&[(KEY_PREFIX, bad)]);
            assert!(m.starts_with("PURGE_KEY_PREFIX="), "{bad}: {m}");
            assert!(m.contains(fix), "{bad}: {m}");
        }
        for good in ["images/", "a/b/", "100%/", "photos/2026/"] {
            assert_eq!(
                config(&[(KEY_PREFIX, good)]).map(|c| c.key_prefix).ok(),
                Some(good.to_owned())
            );
        }
    }

    #[test]
    fn path_templates_with_wildcards_queries_or_fragments_are_refused() {
        for (bad, one) in [
            ("/{key}*", "/{key}*"),
            ("/{key},/thumbs/*/{key}", "/thumbs/*/{key}"),
            ("/{key}?v=1", "/{key}?v=1"),
            ("/{key}#top", "/{key}#top"),
        ] {
            let m = message(&[(PATH_TEMPLATES, bad)]);
            assert!(m.starts_with("PURGE_PATH_TEMPLATES="), "{bad}: {m}");
            assert!(m.contains(&format!("remove it from `{one}`")), "{bad}: {m}");
        }
    }

    #[test]
    fn local_runs_need_the_handlers_variables_less_what_provision_creates() {
        assert_eq!(
            Config::local_requirements(true),
            [Var::TableName, Var::Bucket, Var::KeyTemplate]
        );
        assert_eq!(
            Config::local_requirements(false),
            [
                Var::TableName,
                Var::Bucket,
                Var::KeyTemplate,
                Var::DistributionId,
                Var::TopicArn
            ]
        );
    }

    #[test]
    fn resource_identifiers_are_checked() {
        let cases = [
            (BUCKET, "Bad_Bucket"),
            (BUCKET, "ab"),
            (TABLE_NAME, "no spaces"),
            (DISTRIBUTION_ID, "e2qw-lower"),
            (TOPIC_ARN, "arn:aws:sqs:eu-west-1:1:q"),
            (TOPIC_ARN, "purge-failures"),
            (STATE_MACHINE_ARN, "arn:aws:states:eu-west-1:1:activity:x"),
        ];
        for (var, value) in cases {
            let m = message(&[(var, value)]);
            assert!(
                m.starts_with(&format!("{var}={value:?} is invalid; expected ")),
                "{m}"
            );
        }
    }
}
