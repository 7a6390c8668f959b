//! `purgeflow replay` against moto: failure reports drained from the failure queue, listed by a
//! dry run without starting anything or consuming the messages, then started on a state machine
//! with StartExecution; replaying the same reports again starts nothing new.

use aws_sdk_sfn::types::ExecutionListItem;
use purgeflow_cli::replay::{Args, run};
use purgeflow_tests::local_env::LocalEnv;
use serde_json::{Value, json};

/// A report as ReportFailures publishes it: one delete left to do.
fn report(batch: &str) -> Value {
    json!({
        "reportVersion": 1,
        "executionName": batch,
        "batchId": batch,
        "part": 1,
        "parts": 1,
        "rejections": [],
        "deleteFailures": [],
        "failedInvalidations": [],
        "replayInput": {
            "batchId": batch,
            "records": [],
            "targets": [{"bucket": "b", "key": format!("images/{batch}.jpg"), "paths": [format!("/images/{batch}.jpg")], "eventId": batch, "tableKeys": {"photo_id": {"S": batch}}}]
        }
    })
}

async fn executions(env: &LocalEnv, arn: &str) -> Vec<ExecutionListItem> {
    env.aws
        .sfn
        .list_executions()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("ListExecutions")
        .executions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_from_the_queue_are_listed_then_started_once_on_a_state_machine() {
    let env = LocalEnv::start("local_replay").await;
    let queue_url = env
        .aws
        .sqs
        .create_queue()
        .queue_name("replay-failures")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let rejected_only = json!({"reportVersion": 1, "executionName": "r", "batchId": "r", "part": 1, "parts": 1,
        "rejections": [{"eventId": "e"}], "deleteFailures": [], "failedInvalidations": [], "replayInput": null});
    for body in [report("a"), report("b"), report("a"), rejected_only] {
        env.aws
            .sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .expect("SendMessage");
    }
    let state_machine_arn = env
        .aws
        .sfn
        .create_state_machine()
        .name("purge")
        .role_arn("arn:aws:iam::123456789012:role/purge")
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#)
        .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn;

    let args = |dry_run: bool| Args {
        files: Vec::new(),
        queue_url: Some(queue_url.clone()),
        dry_run,
        state_machine_arn: Some(state_machine_arn.clone()),
        endpoint_url: Some(env.endpoint_url.clone()),
        virtual_time: false,
        state_dir: env.state_dir.clone(),
    };

    // The dry run starts nothing and leaves the messages on the queue for the real run.
    let dry = run(args(true)).await.expect("dry run");
    assert!(dry.outcomes.is_empty());
    assert_eq!((dry.not_replayable, dry.duplicates), (1, 1), "{dry:?}");
    assert!(executions(&env, &state_machine_arn).await.is_empty());

    let replayed = run(args(false)).await.expect("replay");
    assert_eq!(
        replayed.outcomes.len(),
        2,
        "a and b, the duplicate a once: {replayed:?}"
    );
    assert_eq!(replayed.succeeded(), 2);
    let mut names: Vec<String> = executions(&env, &state_machine_arn)
        .await
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("replay-a-") || n.starts_with("replay-b-")),
        "{names:?}"
    );

    // Every message was consumed; the same reports again (from a file) start nothing new.
    let left = env
        .aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .send()
        .await
        .expect("ReceiveMessage");
    assert!(
        left.messages.unwrap_or_default().is_empty(),
        "replayed messages are deleted"
    );
    std::fs::create_dir_all(&env.state_dir).expect("state dir");
    let file = env.state_dir.join("reports.json");
    std::fs::write(&file, json!([report("a"), report("b")]).to_string()).expect("write");
    let again = run(Args {
        files: vec![file],
        queue_url: None,
        ..args(false)
    })
    .await
    .expect("replay again");
    assert_eq!(again.succeeded(), 2, "{again:?}");
    assert_eq!(
        executions(&env, &state_machine_arn).await.len(),
        2,
        "the same names: no new executions"
    );
}

/// `purgeflow replay` checks each report's MAC against moto's KMS before it starts anything:
/// an intact signed report passes; the same report with its target's key edited, and an
/// unsigned one, are listed for a person with why, never started. Fails on the code before
/// the MAC, which started all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_names_the_reports_that_fail_verification_and_starts_none_of_them() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    use purgeflow_cli::replay::{NotReplayableKind, collect_files, verify_signatures};
    use purgeflow_tasks::contract::ExecutionInput;
    use purgeflow_tasks::signing::MacKey;

    let env = LocalEnv::start("local_replay_mac").await;
    let key_id = env
        .aws
        .kms
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    let key = MacKey::new(env.aws.kms.clone(), key_id.clone());
    let signed = |mut report: Value| {
        let key = key.clone();
        async move {
            let input: ExecutionInput =
                serde_json::from_value(report["replayInput"].clone()).expect("an input");
            report["replayInput"] =
                serde_json::to_value(key.signed(input).await.expect("GenerateMac")).expect("json");
            report
        }
    };
    let intact = signed(report("intact")).await;
    let mut edited = signed(report("edited")).await;
    edited["replayInput"]["targets"][0]["key"] = json!("images/someone-elses.jpg");
    let unsigned = report("unsigned");
    let file = env.state_dir.join("reports.json");
    std::fs::create_dir_all(&env.state_dir).expect("state dir");
    std::fs::write(&file, json!([intact, edited, unsigned]).to_string()).expect("write");

    let mut collected = collect_files(std::slice::from_ref(&file)).expect("reports");
    assert_eq!(collected.inputs.len(), 3);
    let config = LocalEnv::config(&[("PURGE_MAC_KEY_ID", &key_id)]);
    let refused = verify_signatures(&mut collected, &config, &env.aws.kms).await;

    let kept: Vec<&str> = collected
        .inputs
        .iter()
        .map(|i| i.input["batchId"].as_str().expect("batchId"))
        .collect();
    assert_eq!(
        kept,
        ["intact"],
        "only the intact signed report is replayed"
    );
    assert_eq!(refused.len(), 2, "both refusals reach the dry run's lines");
    let whys: Vec<&str> = collected
        .not_replayable
        .iter()
        .filter(|n| n.kind == NotReplayableKind::NeedsAPerson)
        .map(|n| n.why.as_str())
        .collect();
    assert_eq!(whys.len(), 2, "{whys:#?}");
    assert!(
        whys.iter()
            .any(|w| w.contains("PurgeFlow.BadSignature") && w.contains("batch edited")),
        "{whys:#?}"
    );
    assert!(
        whys.iter()
            .any(|w| w.contains("PurgeFlow.UnsignedInput") && w.contains("batch unsigned")),
        "{whys:#?}"
    );
}
