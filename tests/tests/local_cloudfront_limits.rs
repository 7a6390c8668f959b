//! `purgeflow local --cloudfront-limits` against moto, which enforces none of CloudFront's
//! limits: invalidations stay in progress for the configured time, a request that would pass
//! 3,000 file paths or 15 wildcards in progress is refused on the wire with
//! TooManyInvalidationsInProgress, and the dispatcher's capacity reads (ListInvalidations,
//! GetInvalidation) see what is in progress.

use std::time::Duration;

use aws_sdk_cloudfront::operation::create_invalidation::CreateInvalidationError;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use purgeflow_cli::local::aws::sdk_config;
use purgeflow_cli::local::cloudfront_limits::CloudFrontLimits;
use purgeflow_cli::local::{ProvisionOptions, connect};
use purgeflow_tasks::dispatch::capacity::in_progress;
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};

const HOLD: Duration = Duration::from_secs(3);

async fn create(
    client: &aws_sdk_cloudfront::Client,
    distribution: &str,
    reference: &str,
    paths: Vec<String>,
) -> Result<(String, String), CreateInvalidationError> {
    let quantity = i32::try_from(paths.len()).expect("small");
    let batch = InvalidationBatch::builder()
        .caller_reference(reference)
        .paths(
            Paths::builder()
                .quantity(quantity)
                .set_items(Some(paths))
                .build()
                .expect("paths"),
        )
        .build()
        .expect("batch");
    let created = client
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|e| e.into_service_error())?;
    let invalidation = created.invalidation().expect("an invalidation");
    Ok((
        invalidation.id().to_owned(),
        invalidation.status().to_owned(),
    ))
}

fn files(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/images/{tag}/{i}.jpg")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_hold_on_the_wire_and_free_up_with_time() {
    let env = LocalEnv::start("local_cloudfront_limits").await;
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", "limits-photos"),
        ("PURGE_BUCKET", "limits-bucket"),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        (
            "PURGE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:limits-failures",
        ),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "limits-failures".into(),
        object_lock: false,
    };
    let connected = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision");
    let distribution = connected
        .config
        .distribution_id()
        .expect("provisioned")
        .to_owned();
    let limits = CloudFrontLimits::new(HOLD);
    let sdk = sdk_config(Some(&env.endpoint_url)).await;
    let client = limits.client(&sdk, None).expect("a client");

    // 3,000 file paths fit; the 3,001st does not.
    for tag in ["a", "b", "c"] {
        let (_, status) = create(&client, &distribution, tag, files(tag, 1000))
            .await
            .expect("within the limit");
        assert_eq!(
            status, "InProgress",
            "moto says COMPLETED; the limits say InProgress"
        );
    }
    let refused = create(&client, &distribution, "d", files("d", 1))
        .await
        .expect_err("3,001 file paths in progress");
    assert!(
        matches!(
            refused,
            CreateInvalidationError::TooManyInvalidationsInProgress(_)
        ),
        "{refused:?}"
    );
    // Wildcards are counted on their own: 15 fit, the 16th does not.
    let wildcards: Vec<String> = (0..15).map(|i| format!("/images/w{i}/*")).collect();
    create(&client, &distribution, "w", wildcards)
        .await
        .expect("15 wildcards");
    let refused = create(&client, &distribution, "w16", vec!["/images/w16/*".into()])
        .await
        .expect_err("16 wildcards in progress");
    assert!(matches!(
        refused,
        CreateInvalidationError::TooManyInvalidationsInProgress(_)
    ));
    // The same CallerReference again is the same invalidation: no more room needed.
    create(&client, &distribution, "a", files("a", 1000))
        .await
        .expect("a retry of the same request");
    assert_eq!(limits.refused(), 2);

    // The dispatcher's capacity read sees it all in progress (moto keeps the retry as a
    // second invalidation, which CloudFront would not: the local count errs on the full side).
    let busy = in_progress(&client, &distribution, chrono::Utc::now())
        .await
        .expect("capacity");
    assert!(busy.paths >= 3000, "{busy:?}");
    assert_eq!(busy.wildcards, 15, "{busy:?}");

    // Once they have had their time, they complete and the room is free again.
    tokio::time::sleep(HOLD + Duration::from_millis(300)).await;
    let busy = in_progress(&client, &distribution, chrono::Utc::now())
        .await
        .expect("capacity");
    assert_eq!((busy.invalidations, busy.paths, busy.wildcards), (0, 0, 0));
    let (id, _) = create(&client, &distribution, "e", files("e", 3000))
        .await
        .expect("room again");
    let got = client
        .get_invalidation()
        .distribution_id(&distribution)
        .id(&id)
        .send()
        .await
        .expect("get");
    assert_eq!(got.invalidation().map(|i| i.status()), Some("InProgress"));
}
