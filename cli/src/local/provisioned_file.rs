//! What `--provision` created, remembered in the state directory (`provisioned.json`), so that
//! the next `purgeflow local` with the same state directory finds the distribution and topic it
//! made without new variables: the README's two commands run as written, one after the other.
//!
//! A variable that is set always wins over the file, and the file is used only for the table
//! and bucket it was made for, so a state directory never redirects a run configured for
//! other resources.

use std::path::{Path, PathBuf};

use anyhow::Context;
use purgeflow_tasks::config::Config;

use crate::local::provision::Provisioned;

/// `STATE_DIR/provisioned.json`.
pub fn provisioned_path(state_dir: &Path) -> PathBuf {
    state_dir.join("provisioned.json")
}

/// Writes what was provisioned (replacing the file atomically).
pub fn save(state_dir: &Path, provisioned: &Provisioned) -> anyhow::Result<PathBuf> {
    let path = provisioned_path(state_dir);
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let text = serde_json::to_string_pretty(provisioned)
        .context("cannot serialise what was provisioned")?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text + "\n")
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(path)
}

/// The remembered resources, if the state directory has any.
pub fn load(state_dir: &Path) -> anyhow::Result<Option<Provisioned>> {
    let path = provisioned_path(state_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "{} is not valid; fix it, or delete it and run --provision again",
                path.display()
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => {
            Err(anyhow::Error::new(error).context(format!("cannot read {}", path.display())))
        }
    }
}

/// Fills `config`'s unset distribution and topic from `remembered` when it was made for the
/// same table and bucket; returns what was filled in, for a note (`None`: nothing).
pub fn fill_in(config: &mut Config, remembered: &Provisioned) -> Option<String> {
    let same_resources = config.table_name.as_deref() == Some(remembered.table.as_str())
        && config.bucket.as_deref() == Some(remembered.bucket.as_str());
    if !same_resources {
        return None;
    }
    let mut filled = Vec::new();
    if config.distribution_id.is_none() {
        config.distribution_id = Some(remembered.distribution_id.clone());
        filled.push(format!("distribution {}", remembered.distribution_id));
    }
    if config.topic_arn.is_none() {
        config.topic_arn = Some(remembered.topic_arn.clone());
        filled.push(format!("topic {}", remembered.topic_arn));
    }
    if config.mac_key_id.is_none() {
        config.mac_key_id = Some(remembered.mac_key_id.clone());
        filled.push(format!("MAC key {}", remembered.mac_key_id));
    }
    if config.deferral_queue_url.is_none() {
        config.deferral_queue_url = Some(remembered.deferral_queue_url.clone());
        filled.push(format!("deferral queue {}", remembered.deferral_queue_url));
    }
    (!filled.is_empty()).then(|| filled.join(", "))
}

/// The `export` lines that set what `--provision` found or made, for a shell or another tool.
pub fn export_lines(provisioned: &Provisioned) -> String {
    use purgeflow_tasks::config::{DEFERRAL_QUEUE_URL, DISTRIBUTION_ID, MAC_KEY_ID, TOPIC_ARN};
    format!(
        "export {DISTRIBUTION_ID}={}\nexport {TOPIC_ARN}={}\nexport {DEFERRAL_QUEUE_URL}={}\nexport {MAC_KEY_ID}={}",
        provisioned.distribution_id,
        provisioned.topic_arn,
        provisioned.deferral_queue_url,
        provisioned.mac_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provisioned() -> Provisioned {
        Provisioned {
            table: "photos".into(),
            stream_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/photos/stream/x".into(),
            bucket: "photos-bucket".into(),
            distribution_id: "E2QWRUHEXAMPLE".into(),
            topic_arn: "arn:aws:sns:us-east-1:000000000000:purgeflow-failures".into(),
            queue_url: "http://127.0.0.1:1/000000000000/purgeflow-failures".into(),
            deferral_queue_url: "http://127.0.0.1:1/000000000000/purgeflow-deferred".into(),
            mac_key_id: "arn:aws:kms:us-east-1:000000000000:key/beef".into(),
        }
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("a valid configuration")
    }

    #[test]
    fn a_saved_file_fills_only_what_is_unset_for_the_same_resources() {
        let dir =
            std::env::temp_dir().join(format!("purgeflow-provisioned-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load(&dir).expect("no file yet"), None);
        save(&dir, &provisioned()).expect("save");
        let remembered = load(&dir).expect("load").expect("saved");

        let mut same = config(&[
            ("PURGE_TABLE_NAME", "photos"),
            ("PURGE_BUCKET", "photos-bucket"),
        ]);
        let note = fill_in(&mut same, &remembered).expect("filled");
        assert!(
            note.contains("E2QWRUHEXAMPLE") && note.contains("purgeflow-failures"),
            "{note}"
        );
        assert_eq!(same.distribution_id.as_deref(), Some("E2QWRUHEXAMPLE"));

        let mut set = config(&[
            ("PURGE_TABLE_NAME", "photos"),
            ("PURGE_BUCKET", "photos-bucket"),
            ("PURGE_DISTRIBUTION_ID", "EOTHERDISTRIB"),
        ]);
        fill_in(&mut set, &remembered);
        assert_eq!(
            set.distribution_id.as_deref(),
            Some("EOTHERDISTRIB"),
            "a variable wins"
        );

        let mut other = config(&[
            ("PURGE_TABLE_NAME", "videos"),
            ("PURGE_BUCKET", "photos-bucket"),
        ]);
        assert_eq!(fill_in(&mut other, &remembered), None);
        assert_eq!(other.distribution_id, None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn export_lines_set_the_variables() {
        assert_eq!(
            export_lines(&provisioned()),
            "export PURGE_DISTRIBUTION_ID=E2QWRUHEXAMPLE\nexport PURGE_TOPIC_ARN=arn:aws:sns:us-east-1:000000000000:purgeflow-failures\nexport PURGE_DEFERRAL_QUEUE_URL=http://127.0.0.1:1/000000000000/purgeflow-deferred\nexport PURGE_MAC_KEY_ID=arn:aws:kms:us-east-1:000000000000:key/beef"
        );
    }
}
