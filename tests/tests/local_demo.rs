//! `purgeflow demo`'s story against moto: after the pipeline and the replay of the file it
//! wrote, exactly the objects that should stay are left, and it showed each step's evidence.

use std::collections::BTreeSet;

use purgeflow_cli::demo::{Args, run_against};
use purgeflow_tests::local_env::LocalEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_purges_reports_and_replays() {
    let env = LocalEnv::start("local_demo").await;
    let args = Args {
        photos: 8,
        state_dir: env.state_dir.clone(),
    };
    let outcome = run_against(&env.endpoint_url, &args)
        .await
        .expect("the demo runs");

    assert_eq!(
        outcome.run.removed, 6,
        "4 photos, the private file's item, the bad record: {:?}",
        outcome.run
    );
    let gone: Vec<&str> = outcome
        .objects
        .iter()
        .filter(|o| !o.present)
        .map(|o| o.key.as_str())
        .collect();
    assert_eq!(
        gone,
        ["images/photo-001.jpg", "images/photo-002.jpg"],
        "{:#?}",
        outcome.objects
    );
    let held = outcome
        .objects
        .iter()
        .find(|o| o.key == "images/photo-003.jpg")
        .expect("the held photo");
    assert!(
        held.present && held.why.contains("AccessDenied"),
        "{held:?}"
    );
    let recreated = outcome
        .objects
        .iter()
        .find(|o| o.key == "images/photo-004.jpg")
        .expect("the re-created photo");
    assert!(
        recreated.present && recreated.why.contains("superseded"),
        "{recreated:?}"
    );
    let private = outcome
        .objects
        .iter()
        .find(|o| o.key == "private/contract-scan.pdf")
        .expect("the private file");
    assert!(
        private.present
            && private.why.contains("KeyOutsidePrefix")
            && private.why.contains("UnsafeKey"),
        "{private:?}"
    );

    let paths: BTreeSet<&str> = outcome
        .invalidations
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    assert!(
        paths.contains("/images/photo-001.jpg") && paths.contains("/thumbs/images/photo-002.jpg"),
        "{paths:?}"
    );
    assert_eq!(outcome.reports.len(), 1, "{:#?}", outcome.reports);
    assert!(outcome.replay_file.exists());

    let left: BTreeSet<&str> = outcome
        .remaining_after_replay
        .iter()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "images/photo-004.jpg",
        "images/photo-005.jpg",
        "images/photo-006.jpg",
        "images/photo-007.jpg",
        "images/photo-008.jpg",
        "private/contract-scan.pdf",
    ]
    .into_iter()
    .collect();
    assert_eq!(
        left, expected,
        "the replay purged the formerly held photo, nothing else"
    );
}
