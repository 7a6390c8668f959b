//! `purgeflow replay --queue-url` never deletes a message it could not understand: such a
//! message is left on the queue (visible again), counted in the summary, and the exit code is 1.
//! Against moto, started and stopped (by PID, when dropped) by this test.

use std::process::Command;

use purgeflow_cli::local::aws::{AwsClients, sdk_config};
use purgeflow_cli::local::moto::MotoServer;
use serde_json::json;

#[test]
fn messages_that_are_not_reports_stay_on_the_queue() {
    let moto = MotoServer::start().expect("moto starts (installed into .venv/moto if missing)");
    let endpoint = moto.endpoint_url();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let aws = runtime.block_on(async { AwsClients::new(&sdk_config(Some(&endpoint)).await) });
    let report = json!({
        "reportVersion": 1, "executionName": "e", "batchId": "b-1", "part": 1, "parts": 1,
        "rejections": [], "deleteFailures": [], "failedInvalidations": [],
        "replayInput": {"batchId": "b-1", "records": [], "targets": [
            {"bucket": "b", "key": "images/k.jpg", "paths": ["/images/k.jpg"], "eventId": "e", "tableKeys": {}}
        ]}
    });
    let (queue_url, state_machine_arn) = runtime.block_on(async {
        let queue_url = aws
            .sqs
            .create_queue()
            .queue_name("failures")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("a queue URL");
        for body in [
            "not JSON at all".to_owned(),
            json!({"hello": "not a report"}).to_string(),
            json!({"reportVersion": 1, "replayInput": [1, 2]}).to_string(),
            report.to_string(),
        ] {
            aws.sqs
                .send_message()
                .queue_url(&queue_url)
                .message_body(body)
                .send()
                .await
                .expect("SendMessage");
        }
        let arn = aws
            .sfn
            .create_state_machine()
            .name("purge")
            .role_arn("arn:aws:iam::000000000000:role/purge")
            .definition(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#)
            .send()
            .await
            .expect("CreateStateMachine")
            .state_machine_arn;
        (queue_url, arn)
    });

    let out = Command::new(env!("CARGO_BIN_EXE_purgeflow"))
        .args([
            "replay",
            "--queue-url",
            &queue_url,
            "--state-machine-arn",
            &state_machine_arn,
        ])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("the purgeflow binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not everything was replayed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("1 message(s) deleted from the queue"),
        "{text}"
    );
    assert!(
        text.contains("1 succeeded or started") && text.contains("3 message(s) left on the queue"),
        "{text}"
    );
    assert!(text.contains("body is not JSON"), "{text}");
    assert!(
        text.contains("its replayInput is an array, not an execution input"),
        "{text}"
    );

    // The three are back on the queue, visible at once; the replayed report is gone.
    let mut left: Vec<String> = runtime.block_on(async {
        let mut bodies = Vec::new();
        for _ in 0..5 {
            let page = aws
                .sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .expect("ReceiveMessage");
            bodies.extend(
                page.messages
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|m| m.body),
            );
        }
        bodies
    });
    left.sort();
    assert_eq!(
        left,
        [
            "not JSON at all".to_owned(),
            json!({"hello": "not a report"}).to_string(),
            json!({"reportVersion": 1, "replayInput": [1, 2]}).to_string(),
        ]
    );
    drop(moto);
}
