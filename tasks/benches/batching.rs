//! BatchPaths on 10,000 paths: encoding, dedupe, folding, chunking and CallerReferences.
//!
//! Two shapes: paths spread over many directories (nothing folds, four batches of ≤ 3000), and
//! paths crowded into a few directories (folding kicks in).
//!
//!     cargo bench -p purgeflow-tasks --bench batching

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use purgeflow_tasks::batch_paths::batch_paths;
use purgeflow_tasks::contract::{AttributeMap, BatchPathsInput, PurgeTarget};
use purgeflow_tasks::paths::FoldPolicy;

const PATHS: usize = 10_000;

fn targets(directories: usize) -> Vec<PurgeTarget> {
    (0..PATHS)
        .map(|i| {
            // Some keys need encoding (space, unicode) so the encoder does real work.
            let key = format!("images/d{:04}/photo {i} é.jpg", i % directories);
            PurgeTarget {
                bucket: "photos-bucket".to_owned(),
                paths: vec![format!("/{key}")],
                key,
                event_id: format!("event-{i}"),
                table_keys: AttributeMap::new(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let policy = FoldPolicy::default();
    for (name, directories) in [
        ("batch_10k_paths_spread", 5_000),
        ("batch_10k_paths_crowded", 20),
    ] {
        let input = BatchPathsInput {
            batch_id: "bench-batch".to_owned(),
            deleted: targets(directories),
            batches: vec![],
        };
        c.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |input| batch_paths(input, "E2QWRUHEXAMPLE", &policy).expect("valid input"),
                BatchSize::LargeInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
