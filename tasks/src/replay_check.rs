//! What a replay input would do, judged before anything runs (`purgeflow replay --dry-run`).
//!
//! [`check_replay_input`] applies the tasks' own checks and re-implements none of them:
//! ValidateRecords' [`validate_record`] for the records to validate again and
//! [`target_refusals`] for the replayed targets (table keys, bucket, the key rules of
//! [`crate::key_safety`], `PURGE_KEY_PREFIX`), and BatchPaths' [`screen_replayed_batches`] for
//! the replayed invalidation batches (distribution, CallerReference, size, each path under the
//! key rules and inside the purge area, wildcards). Where a task stops at the first reason, this
//! lists every one.
//!
//! Not judged here: the supersede check (a DynamoDB read at run time: a target that passes may
//! still be kept because its item exists again), and a replayed batch whose CallerReference
//! clashes with one of the execution's own new batches (BatchPaths plans those from what was
//! actually deleted).

use crate::batch_paths::{ReplayedBatchVerdict, screen_replayed_batches};
use crate::config::Config;
use crate::contract::{
    ExecutionInput, IgnoreReason, InvalidationBatch, PurgeTarget, Rejection, RejectionReason,
};
use crate::validation::{Rules, Verdict, paths_for, target_refusals, validate_record};

/// One reason the replay would not act on a record, target or batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// ValidateRecords would reject it with this reason (as a report's `rejections` names it).
    Rejected {
        reason: RejectionReason,
        detail: String,
    },
    /// BatchPaths would drop the batch (a report's `droppedBatches`).
    BatchDropped { detail: String },
    /// The input's MAC is missing or does not verify: ValidateRecords refuses the whole input
    /// (`error`: `PurgeFlow.UnsignedInput` or `PurgeFlow.BadSignature`) before anything is
    /// touched, so every record, target and batch of it is refused (see `crate::signing`).
    Signature { error: &'static str, detail: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Rejected { reason, detail } => write!(f, "{reason:?}: {detail}"),
            Refusal::BatchDropped { detail } => write!(f, "DroppedBatch: {detail}"),
            Refusal::Signature { error, detail } => write!(f, "{error}: {detail}"),
        }
    }
}

/// What the replay would do with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deleted (a record or target) or sent (a batch).
    WouldRun,
    /// Refused, for every one of these reasons.
    Refused(Vec<Refusal>),
    /// A record ValidateRecords ignores (a TTL delete under `PURGE_TTL_DELETES=ignore`).
    Ignored(IgnoreReason),
    /// A batch identical to an earlier one in the same input: sent once.
    Duplicate,
    /// The configuration needed to judge it is missing (the variable is named).
    Unchecked(String),
}

/// A record of the input: the key and paths ValidateRecords computes, when it can.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordCheck {
    pub event_id: String,
    pub target: Option<PurgeTarget>,
    pub outcome: Outcome,
}

/// A replayed target, with the paths ValidateRecords recomputes from `PURGE_PATH_TEMPLATES`
/// (the ones in the input are not used); the input's own when it can't be judged.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    pub target: PurgeTarget,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BatchCheck {
    pub batch: InvalidationBatch,
    pub outcome: Outcome,
}

/// The verdict on every part of one replay input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayCheck {
    pub records: Vec<RecordCheck>,
    pub targets: Vec<TargetCheck>,
    pub batches: Vec<BatchCheck>,
    /// Rejections the input already carries (the trigger's, for records too large to hand
    /// over): ValidateRecords reports them again; they delete nothing.
    pub rejections: Vec<Rejection>,
}

impl ReplayCheck {
    /// Refuses every record, target and batch for `refusal` as well, listed first: what a
    /// signature refusal does to the whole input.
    pub fn refuse_all(&mut self, refusal: &Refusal) {
        let refuse = |outcome: &mut Outcome| {
            let mut refusals = match std::mem::replace(outcome, Outcome::WouldRun) {
                Outcome::Refused(refusals) => refusals,
                _ => Vec::new(),
            };
            refusals.insert(0, refusal.clone());
            *outcome = Outcome::Refused(refusals);
        };
        self.records.iter_mut().for_each(|r| refuse(&mut r.outcome));
        self.targets.iter_mut().for_each(|t| refuse(&mut t.outcome));
        self.batches.iter_mut().for_each(|b| refuse(&mut b.outcome));
    }

    /// How many distinct objects (bucket and key) the replay would delete: two targets or
    /// records naming one object delete it once.
    pub fn objects_to_delete(&self) -> usize {
        let would_delete = self
            .records
            .iter()
            .filter(|r| r.outcome == Outcome::WouldRun)
            .filter_map(|r| r.target.as_ref())
            .chain(
                self.targets
                    .iter()
                    .filter(|t| t.outcome == Outcome::WouldRun)
                    .map(|t| &t.target),
            );
        would_delete
            .map(|t| (t.bucket.as_str(), t.key.as_str()))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// Whether anything in the input would be refused.
    pub fn any_refused(&self) -> bool {
        let refused = |o: &Outcome| matches!(o, Outcome::Refused(_));
        self.records.iter().any(|r| refused(&r.outcome))
            || self.targets.iter().any(|t| refused(&t.outcome))
            || self.batches.iter().any(|b| refused(&b.outcome))
    }
}

/// Judges `input` against `config` the way the tasks would; see the module docs.
pub fn check_replay_input(input: &ExecutionInput, config: &Config) -> ReplayCheck {
    let rules = Rules::from_config(config);
    let records = input
        .records
        .iter()
        .map(|record| match &rules {
            Err(missing) => RecordCheck {
                event_id: record.event_id.clone(),
                target: None,
                outcome: Outcome::Unchecked(missing.to_string()),
            },
            Ok(rules) => {
                let (target, outcome) = match validate_record(record, rules) {
                    Verdict::Target(target) => (Some(target), Outcome::WouldRun),
                    Verdict::Rejected(rejection) => (
                        None,
                        Outcome::Refused(vec![Refusal::Rejected {
                            reason: rejection.reason,
                            detail: rejection.detail,
                        }]),
                    ),
                    Verdict::Ignored(ignored) => (None, Outcome::Ignored(ignored.reason)),
                };
                RecordCheck {
                    event_id: record.event_id.clone(),
                    target,
                    outcome,
                }
            }
        })
        .collect();
    let targets = input
        .targets
        .iter()
        .map(|target| match &rules {
            Err(missing) => TargetCheck {
                target: target.clone(),
                outcome: Outcome::Unchecked(missing.to_string()),
            },
            Ok(rules) => {
                let refusals: Vec<Refusal> = target_refusals(target, rules)
                    .into_iter()
                    .map(|(reason, detail)| Refusal::Rejected { reason, detail })
                    .collect();
                let mut target = target.clone();
                target.paths = paths_for(&target.key, rules.path_templates);
                TargetCheck {
                    target,
                    outcome: if refusals.is_empty() {
                        Outcome::WouldRun
                    } else {
                        Outcome::Refused(refusals)
                    },
                }
            }
        })
        .collect();
    let batches = match config.distribution_id() {
        Err(missing) => input
            .batches
            .iter()
            .map(|batch| BatchCheck {
                batch: batch.clone(),
                outcome: Outcome::Unchecked(missing.to_string()),
            })
            .collect(),
        Ok(distribution_id) => {
            let verdicts =
                screen_replayed_batches(&input.batches, distribution_id, &config.fold_policy());
            input
                .batches
                .iter()
                .zip(verdicts)
                .map(|(batch, verdict)| BatchCheck {
                    batch: batch.clone(),
                    outcome: match verdict {
                        ReplayedBatchVerdict::Send => Outcome::WouldRun,
                        ReplayedBatchVerdict::Duplicate => Outcome::Duplicate,
                        ReplayedBatchVerdict::Refused(problems) => Outcome::Refused(
                            problems
                                .into_iter()
                                .map(|detail| Refusal::BatchDropped { detail })
                                .collect(),
                        ),
                    },
                })
                .collect()
        }
    };
    ReplayCheck {
        records,
        targets,
        batches,
        rejections: input.rejections.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::caller_reference;
    use serde_json::json;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
    }

    const FULL: &[(&str, &str)] = &[
        ("PURGE_BUCKET", "photo-bucket"),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        ("PURGE_PATH_TEMPLATES", "/{key}"),
        ("PURGE_DISTRIBUTION_ID", "E1"),
    ];

    fn target(key: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: "photo-bucket".into(),
            key: key.into(),
            paths: vec!["/stale".into()],
            event_id: "e".into(),
            table_keys: json!({"id": {"S": "1"}})
                .as_object()
                .expect("object")
                .clone(),
        }
    }

    fn batch(paths: &[&str]) -> InvalidationBatch {
        let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        InvalidationBatch {
            distribution_id: "E1".into(),
            caller_reference: caller_reference("b-0", "E1", &paths),
            paths,
        }
    }

    fn input(targets: Vec<PurgeTarget>, batches: Vec<InvalidationBatch>) -> ExecutionInput {
        ExecutionInput {
            batch_id: "b-1".into(),
            records: vec![],
            targets,
            batches,
            rejections: vec![],
            mac: None,
        }
    }

    fn reasons(outcome: &Outcome) -> Vec<String> {
        match outcome {
            Outcome::Refused(refusals) => refusals.iter().map(ToString::to_string).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_reason_of_every_target_and_batch_is_listed() {
        let mut elsewhere = target("private/..;/x.jpg");
        elsewhere.bucket = "other-bucket".into();
        let check = check_replay_input(
            &input(
                vec![
                    target("images/a.jpg"),
                    target("images/..;/x.jpg"),
                    elsewhere,
                ],
                vec![
                    batch(&["/images/a.jpg"]),
                    batch(&["/images/..%3B/x.jpg", "/private/b.jpg"]),
                ],
            ),
            &config(FULL),
        );
        assert_eq!(check.targets[0].outcome, Outcome::WouldRun);
        // The paths are the recomputed ones, not the input's.
        assert_eq!(check.targets[0].target.paths, ["/images/a.jpg"]);
        let unsafe_key = reasons(&check.targets[1].outcome);
        assert_eq!(unsafe_key.len(), 1, "{unsafe_key:?}");
        assert!(unsafe_key[0].starts_with("UnsafeKey: "), "{unsafe_key:?}");
        assert!(
            unsafe_key[0].contains("`;` path parameter"),
            "{unsafe_key:?}"
        );
        // Other bucket, unsafe key and outside the prefix: all three.
        let all = reasons(&check.targets[2].outcome);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].contains("bucket \"other-bucket\""), "{all:?}");
        assert!(all[1].starts_with("UnsafeKey"), "{all:?}");
        assert!(all[2].starts_with("KeyOutsidePrefix"), "{all:?}");
        assert_eq!(check.batches[0].outcome, Outcome::WouldRun);
        let batch_reasons = reasons(&check.batches[1].outcome);
        assert_eq!(batch_reasons.len(), 2, "{batch_reasons:?}");
        assert!(
            batch_reasons
                .iter()
                .all(|r| r.starts_with("DroppedBatch: path "))
        );
        assert!(check.any_refused());
        assert_eq!(check.objects_to_delete(), 1);
    }

    #[test]
    fn two_targets_naming_one_object_delete_it_once() {
        let mut again = target("images/a.jpg");
        again.event_id = "e2".into();
        let check = check_replay_input(
            &input(
                vec![target("images/a.jpg"), again, target("images/b.jpg")],
                vec![],
            ),
            &config(FULL),
        );
        assert_eq!(check.targets.len(), 3);
        assert_eq!(check.objects_to_delete(), 2);
    }

    #[test]
    fn without_the_configuration_nothing_is_judged_and_the_variable_is_named() {
        let check = check_replay_input(
            &input(
                vec![target("images/a.jpg")],
                vec![batch(&["/images/a.jpg"])],
            ),
            &config(&[]),
        );
        assert!(
            matches!(&check.targets[0].outcome, Outcome::Unchecked(why) if why.contains("PURGE_BUCKET")),
            "{:?}",
            check.targets[0]
        );
        assert!(
            matches!(&check.batches[0].outcome, Outcome::Unchecked(why) if why.contains("PURGE_DISTRIBUTION_ID")),
            "{:?}",
            check.batches[0]
        );
        assert_eq!(check.objects_to_delete(), 0);
    }

    #[test]
    fn a_batch_given_twice_is_sent_once() {
        let check = check_replay_input(
            &input(
                vec![],
                vec![batch(&["/images/a.jpg"]), batch(&["/images/a.jpg"])],
            ),
            &config(FULL),
        );
        assert_eq!(check.batches[0].outcome, Outcome::WouldRun);
        assert_eq!(check.batches[1].outcome, Outcome::Duplicate);
    }
}
