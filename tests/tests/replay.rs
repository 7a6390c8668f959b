//! Replays, with the real task handlers against the fake AWS: a failure report's `replayInput`s
//! (one part per kind of work left) run only what was left, with the same CallerReference for the same batch; replaying it
//! twice deletes nothing else and pays for no second invalidation; and since Express delivers
//! at least once, two identical executions side by side behave the same.

use purgeflow_asl::ExecutionStatus;
use purgeflow_tests::fake_aws::{FakeAws, InvalidationRequest};
use purgeflow_tests::purge::{contract_violations, describe};
use purgeflow_tests::samples::{BUCKET, Sample};
use serde_json::Value;

const KEPT: &str = "p-20261101-0007.webp";
const DENIED: &str = "p-20261101-0008.png";
/// CloudFront refuses the batch once (TooManyInvalidationsInProgress), and the state machine
/// defers it at once, without a retry.
const INVALIDATION_ATTEMPTS: usize = 1;
/// DeferBatch's SendMessage attempts: the first and 3 retries; all failing makes the batch a
/// FailedInvalidation, which the report carries for replay.
const DEFERRAL_ATTEMPTS: usize = 4;

fn mixed_batch() -> (Sample, Value) {
    let sample = Sample::by_file("mixed-batch.json");
    let input = sample.execution_inputs().remove(0);
    (sample, input)
}

fn name_of(input: &Value) -> String {
    input["batchId"].as_str().expect("batchId").to_owned()
}

fn requests_since(aws: &FakeAws, from: usize) -> Vec<InvalidationRequest> {
    aws.world().invalidation_requests[from..].to_vec()
}

#[tokio::test]
async fn a_replay_runs_only_what_was_left_and_replaying_twice_costs_nothing_more() {
    let (sample, input) = mixed_batch();
    let aws = FakeAws::new().with_objects(BUCKET, [KEPT, DENIED]);
    {
        let mut world = aws.world();
        world.denied_keys.insert(DENIED.to_owned());
        world.too_many_invalidations = INVALIDATION_ATTEMPTS;
        world.send_message_failures = DEFERRAL_ATTEMPTS;
    }

    // 1. One delete is denied; the other's invalidation is refused and can't be deferred either.
    let (first, recording) = aws
        .run(sample.config(&[]), input.clone(), &name_of(&input))
        .await;
    assert_eq!(
        first.error.as_deref(),
        Some("PurgeIncomplete"),
        "{}",
        describe(&first)
    );
    assert_eq!(
        first.cause.as_deref(),
        Some("0 rejected, 1 delete(s) failed, 1 invalidation batch(es) failed")
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
    let failed_batch = {
        let world = aws.world();
        assert_eq!(
            world.delete_requests,
            vec![(BUCKET.to_owned(), vec![KEPT.to_owned(), DENIED.to_owned()])]
        );
        assert_eq!(
            world.invalidation_requests.len(),
            INVALIDATION_ATTEMPTS,
            "one batch, refused"
        );
        assert!(world.deferred.is_empty(), "no deferral got through");
        assert!(
            world.invalidations.is_empty(),
            "nothing was created, nothing paid for"
        );
        world.invalidation_requests[0].clone()
    };
    assert_eq!(failed_batch.paths, vec![format!("/{KEPT}")]);
    // Both kinds are left, so the report comes in two parts, each replaying one kind: the failed
    // target (which makes at most two new batches) and the failed batch (at most two), never
    // both, which could make four and overrun the Map's one wave.
    let (targets_input, batches_input) = {
        let world = aws.world();
        assert_eq!(world.published.len(), 2, "one part per replay kind");
        (
            world.published[0].body["replayInput"].clone(),
            world.published[1].body["replayInput"].clone(),
        )
    };
    for replay_input in [&targets_input, &batches_input] {
        purgeflow_tests::schemas::check("execution-input.schema.json", replay_input)
            .unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(replay_input["batchId"], input["batchId"]);
        assert_eq!(
            replay_input.get("records"),
            Some(&Value::Array(Vec::new())),
            "no record is validated twice"
        );
    }
    let targets: Vec<&str> = targets_input["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(targets, [DENIED], "only the target whose delete failed");
    // An empty list may be left out of the JSON.
    assert_eq!(
        targets_input["batches"].as_array().map_or(0, Vec::len),
        0,
        "targets only"
    );
    assert_eq!(
        batches_input["targets"].as_array().map_or(0, Vec::len),
        0,
        "batches only"
    );
    assert_eq!(
        batches_input["batches"].as_array().map(Vec::len),
        Some(1),
        "only the batch that failed"
    );
    assert_eq!(
        batches_input["batches"][0]["callerReference"],
        Value::from(failed_batch.caller_reference.clone())
    );
    check_replay_sample(
        "events/executions/replay-mixed-batch-targets.json",
        &targets_input,
    );
    check_replay_sample(
        "events/executions/replay-mixed-batch-batches.json",
        &batches_input,
    );

    // 2. The causes are fixed; replaying both parts deletes only the denied object, invalidates
    //    its path, and sends the failed batch again under the same CallerReference.
    {
        let mut world = aws.world();
        world.denied_keys.clear();
    }
    let before = aws.world().invalidation_requests.len();
    let mut second = Vec::new();
    for (replay_input, name) in [
        (&targets_input, "replay-1-targets"),
        (&batches_input, "replay-1-batches"),
    ] {
        let (outcome, recording) = aws
            .run(sample.config(&[]), replay_input.clone(), name)
            .await;
        assert_eq!(
            outcome.status,
            ExecutionStatus::Succeeded,
            "{}",
            describe(&outcome)
        );
        assert_eq!(contract_violations(&recording), Vec::<String>::new());
        second.push(outcome.output);
    }
    let replayed = requests_since(&aws, before);
    {
        let world = aws.world();
        assert_eq!(
            world.delete_requests[1..],
            [(BUCKET.to_owned(), vec![DENIED.to_owned()])]
        );
        assert_eq!(
            world.removed,
            vec![
                (BUCKET.to_owned(), KEPT.to_owned()),
                (BUCKET.to_owned(), DENIED.to_owned())
            ]
        );
        assert_eq!(
            world.invalidations.len(),
            2,
            "the replayed target's path and the failed batch"
        );
    }
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    assert_eq!(replayed[0].paths, vec![format!("/{DENIED}")]);
    assert_eq!(
        replayed[1], failed_batch,
        "the failed batch is sent again exactly, CallerReference included"
    );

    // 3. Replaying the same parts again: the delete is repeated for the same key only (already
    //    gone, so nothing else is removed) and CloudFront returns the existing invalidations.
    let before = aws.world().invalidation_requests.len();
    let mut third = Vec::new();
    for (replay_input, name) in [
        (&targets_input, "replay-2-targets"),
        (&batches_input, "replay-2-batches"),
    ] {
        let (outcome, _) = aws
            .run(sample.config(&[]), replay_input.clone(), name)
            .await;
        assert_eq!(
            outcome.status,
            ExecutionStatus::Succeeded,
            "{}",
            describe(&outcome)
        );
        third.push(outcome.output);
    }
    assert_eq!(third, second);
    let world = aws.world();
    assert_eq!(
        world.delete_requests[2..],
        [(BUCKET.to_owned(), vec![DENIED.to_owned()])]
    );
    assert_eq!(world.removed.len(), 2, "no other object was deleted");
    assert_eq!(
        world.invalidation_requests[before..],
        replayed[..],
        "the same CallerReferences again"
    );
    assert_eq!(
        world.invalidations.len(),
        2,
        "no second invalidation was paid for"
    );
    assert_eq!(
        world.published.len(),
        2,
        "the replays completed, so nothing more was reported"
    );
}

/// `events/executions/replay-mixed-batch-{targets,batches}.json` are this report's two
/// replayInputs, as samples for `purgeflow run` and the console; regenerate them with
/// `PURGEFLOW_BLESS=1 cargo test -p purgeflow-tests --test replay`.
fn check_replay_sample(sample: &str, replay_input: &Value) {
    if std::env::var_os("PURGEFLOW_BLESS").is_some() {
        let text = serde_json::to_string_pretty(replay_input).expect("JSON serialises") + "\n";
        std::fs::write(purgeflow_tests::repo::path(sample), text)
            .unwrap_or_else(|e| panic!("cannot write {sample}: {e}"));
        return;
    }
    assert_eq!(
        &purgeflow_tests::repo::read_json(sample),
        replay_input,
        "{sample} is stale; regenerate it with PURGEFLOW_BLESS=1 cargo test -p purgeflow-tests --test replay"
    );
}

#[tokio::test]
async fn two_identical_executions_side_by_side_behave_the_same() {
    let (sample, input) = mixed_batch();
    let aws = FakeAws::new().with_objects(BUCKET, [KEPT, DENIED]);
    let name = name_of(&input);
    let (one, two) = futures::join!(
        aws.run(sample.config(&[]), input.clone(), &name),
        aws.run(sample.config(&[]), input.clone(), &name)
    );
    let ((one, _), (two, _)) = (one, two);
    assert_eq!(one.status, ExecutionStatus::Succeeded, "{}", describe(&one));
    assert_eq!(two.status, ExecutionStatus::Succeeded, "{}", describe(&two));
    assert_eq!(one.output, two.output);
    assert_eq!(one.states, two.states);
    let world = aws.world();
    let both = vec![KEPT.to_owned(), DENIED.to_owned()];
    assert_eq!(
        world.delete_requests,
        vec![(BUCKET.to_owned(), both.clone()), (BUCKET.to_owned(), both)]
    );
    assert_eq!(world.removed.len(), 2, "each object is removed once");
    assert_eq!(world.invalidation_requests.len(), 2);
    assert_eq!(
        world.invalidation_requests[0], world.invalidation_requests[1],
        "the same batch, the same CallerReference"
    );
    assert_eq!(world.invalidations.len(), 1, "one invalidation paid for");
}
