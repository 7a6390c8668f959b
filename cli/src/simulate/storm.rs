//! The storm's deletes, and the stream that carries them: shards, the event source mapping's
//! batches, and the trigger's own packing of each batch into executions.

use std::borrow::Cow;
use std::collections::HashMap;

use purgeflow_tasks::config::Config;
use purgeflow_tasks::records::{Projection, StreamEvent};
use purgeflow_tasks::trigger::{PackLimits, plan};
use serde_json::value::RawValue;

use super::scenario::{Layout, Scenario};

/// Microseconds of virtual time.
pub type Micros = u64;

pub const SECOND: Micros = 1_000_000;

/// One deleted item: when it was deleted and its object's key.
#[derive(Debug, Clone)]
pub struct Delete {
    pub at: Micros,
    pub key: String,
}

/// The deletes of a scenario, in time order: spread evenly over its duration.
pub fn deletes(scenario: &Scenario) -> Vec<Delete> {
    let n = scenario.deletes as u64;
    let duration = (scenario.duration_s * SECOND as f64) as u64;
    (0..n)
        .map(|i| Delete {
            at: if n > 1 { duration * i / (n - 1) } else { 0 },
            key: format!(
                "{}p{}.jpg",
                dir(scenario.layout, i, n),
                number(i, scenario.live_per_delete)
            ),
        })
        .collect()
}

/// The directory of delete `i` of `n` (with its trailing `/`): `spread`, one user directory per
/// two photos on average (the account-closing storm: every user a little); `crowded`, every
/// photo under one of four directories (one big account). Delete `i`'s live neighbours sit in
/// the same directory.
pub fn dir(layout: Layout, i: u64, n: u64) -> String {
    match layout {
        Layout::Spread => {
            // A fixed permutation of users, so neighbours in time are not neighbours in the tree.
            let users = (n / 2).max(1);
            let user = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % users;
            format!("photos/u{user}/")
        }
        Layout::Crowded => format!("photos/album{}/", i % 4),
    }
}

/// The photo numbers of delete `i` and its `live` neighbours: block `i` of `live + 1`
/// consecutive numbers, the deleted one at a pseudo-random place in it, so deleted and live
/// names interleave and no name prefix tells them apart.
pub fn block(i: u64, live: usize) -> (u64, std::ops::Range<u64>) {
    let size = live as u64 + 1;
    let start = i * size;
    let deleted = start + (i.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % size;
    (deleted, start..start + size)
}

/// The photo number of delete `i` (`p<number>.jpg`).
fn number(i: u64, live: usize) -> u64 {
    block(i, live).0
}

/// Which shard a key's item lives on (DynamoDB hashes the partition key).
pub fn shard_of(key: &str, shards: usize) -> usize {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    (hash % shards.max(1) as u64) as usize
}

/// The configuration the storm runs under, as the Lambdas would read it.
pub fn config(scenario: &Scenario) -> anyhow::Result<Config> {
    let templates = path_templates(scenario.paths_per_object);
    let max_records = scenario.max_records_per_execution.to_string();
    let max_level = scenario.pressure_max_level.to_string();
    let vars = [
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "photos/"),
        ("PURGE_BUCKET", "photo-bucket"),
        ("PURGE_PATH_TEMPLATES", templates.as_str()),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", max_records.as_str()),
        ("PURGE_DISTRIBUTION_ID", DISTRIBUTION_ID),
        ("PURGE_CHECK_SUPERSEDED", "false"),
        ("PURGE_PRESSURE_MAX_LEVEL", max_level.as_str()),
    ];
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .map_err(|e| anyhow::anyhow!("the simulated configuration is invalid: {e}"))
}

pub const DISTRIBUTION_ID: &str = "E2QWRUHEXAMPLE";

/// The folders of an object's paths after `/{key}`.
const EXTRA: [&str; 5] = ["thumbs", "small", "medium", "large", "webp"];

/// The most CDN paths per object the simulation can render (`--paths-per-object`).
pub const MAX_PATHS_PER_OBJECT: usize = EXTRA.len() + 1;

/// `/{key}`, then `/thumbs/{key}`, `/small/{key}`, ... one per path an object has.
fn path_templates(per_object: usize) -> String {
    std::iter::once("/{key}".to_owned())
        .chain(EXTRA.iter().map(|dir| format!("/{dir}/{{key}}")))
        .take(per_object.clamp(1, EXTRA.len() + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// The literal part of each path template before its key (`/`, `/thumbs/`, ...), encoded.
pub fn template_prefixes(config: &Config) -> Vec<String> {
    const MARK: &str = "KEY-MARK";
    paths_of(config, MARK)
        .iter()
        .filter_map(|path| path.find(MARK).map(|at| path[..at].to_owned()))
        .collect()
}

/// The raw CDN paths of one key, rendered by the configuration's own path templates.
pub fn paths_of(config: &Config, key: &str) -> Vec<String> {
    config
        .path_templates
        .iter()
        .filter_map(|template| template.render_with(|_| Ok(Cow::Borrowed(key))).ok())
        .collect()
}

/// The stream record DynamoDB writes for delete `index`.
fn record(index: usize, key: &str) -> String {
    format!(
        r#"{{"eventID":"{index:032x}","eventName":"REMOVE","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{{"Keys":{{"upload_id":{{"S":"u{index}"}}}},"OldImage":{{"upload_id":{{"S":"u{index}"}},"image_key":{{"S":"{key}"}}}},"SequenceNumber":"{index:021}","SizeBytes":100,"StreamViewType":"NEW_AND_OLD_IMAGES"}}}}"#
    )
}

/// The trigger's packing of each stream batch, made once for all the policies of a run. The
/// stream does not depend on the policy (the event source mapping polls the shards on its own
/// clock), so every policy meets the same batches; writing each batch's records as JSON and the
/// trigger parsing them back was the larger part of a policy's run. Keyed by the batch itself, so
/// a batch no earlier policy met is packed afresh.
#[derive(Default)]
pub struct Packings {
    by_batch: HashMap<Vec<u32>, Vec<Vec<u32>>>,
}

impl Packings {
    /// [`pack`] of `batch`, from an earlier policy's run when one met the same batch.
    pub fn pack(
        &mut self,
        config: &Config,
        deletes: &[Delete],
        batch: &[u32],
    ) -> anyhow::Result<&[Vec<u32>]> {
        if !self.by_batch.contains_key(batch) {
            let executions = pack(config, deletes, batch)?;
            self.by_batch.insert(batch.to_vec(), executions);
        }
        Ok(&self.by_batch[batch])
    }
}

/// The executions the trigger starts for one stream batch (delete indices, in stream order):
/// the trigger's own `plan`, so packing limits and budgets are the deployed ones.
pub fn pack(config: &Config, deletes: &[Delete], batch: &[u32]) -> anyhow::Result<Vec<Vec<u32>>> {
    let records = batch
        .iter()
        .map(|&i| RawValue::from_string(record(i as usize, &deletes[i as usize].key)))
        .collect::<Result<Vec<_>, _>>()?;
    let event = StreamEvent { records };
    let template = config.key_template()?;
    let plan = plan(
        &event,
        &Projection::for_template(template),
        PackLimits::from_config(config),
    );
    if let Some((index, error)) = plan.stopped {
        anyhow::bail!("the trigger stopped packing at record {index}: {error}");
    }
    Ok(plan
        .executions
        .iter()
        .map(|execution| {
            batch[execution.first_record..execution.first_record + execution.record_count].to_vec()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_packs_a_storm_batch_within_its_record_limit() {
        let scenario = Scenario {
            deletes: 1200,
            ..Scenario::default()
        };
        let config = config(&scenario).expect("valid");
        let deletes = deletes(&scenario);
        let batch: Vec<u32> = (0..1200).collect();
        let executions = pack(&config, &deletes, &batch).expect("packs");
        let sizes: Vec<usize> = executions.iter().map(Vec::len).collect();
        // The trigger's byte budget (each record costed by what it can become downstream)
        // binds before PURGE_MAX_RECORDS_PER_EXECUTION=500 does for these records.
        assert!(
            sizes.len() == 3 && sizes.iter().all(|&n| n <= 500),
            "{sizes:?}"
        );
        assert_eq!(executions.concat(), batch, "every record, once, in order");
    }

    #[test]
    fn packings_give_each_batch_the_triggers_own_packing() {
        let scenario = Scenario {
            deletes: 1200,
            ..Scenario::default()
        };
        let config = config(&scenario).expect("valid");
        let deletes = deletes(&scenario);
        let mut packings = Packings::default();
        for batch in [
            (0..1200).collect::<Vec<u32>>(),
            (7..9).collect(),
            (0..1200).collect(),
        ] {
            let packed = packings.pack(&config, &deletes, &batch).expect("packs");
            assert_eq!(packed, pack(&config, &deletes, &batch).expect("packs"));
        }
        assert_eq!(
            packings.by_batch.len(),
            2,
            "a batch met again is not packed again"
        );
    }

    #[test]
    fn each_object_has_its_paths_under_the_purge_area() {
        let scenario = Scenario {
            paths_per_object: 2,
            ..Scenario::default()
        };
        let config = config(&scenario).expect("valid");
        assert_eq!(
            paths_of(&config, "photos/u1/p1.jpg"),
            vec!["/photos/u1/p1.jpg", "/thumbs/photos/u1/p1.jpg"]
        );
    }
}
