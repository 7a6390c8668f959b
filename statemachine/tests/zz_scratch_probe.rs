//! Scratch probe (temporary, removed before the report): runs /tmp/probe/*.json definitions.
use purgeflow_asl::{ExecutionOptions, StateMachine};

#[tokio::test]
async fn probe() {
    let Ok(dir) = std::fs::read_dir("/tmp/probe") else { return };
    let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files {
        if f.extension().and_then(|e| e.to_str()) != Some("json") { continue; }
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let m = match StateMachine::from_value(&v["definition"]) { Ok(m) => m, Err(d) => { println!("== {}: INVALID {:?}", f.display(), d); continue; } };
        let r = m.execute(v["input"].clone(), &ExecutionOptions::default()).await;
        println!("== {}: {:?} out={} err={:?} cause={:?}", f.display(), r.status, serde_json::to_string(&r.output).unwrap(), r.error, r.cause);
        if v.get("history").is_some() { for e in &r.history { println!("   {}", serde_json::to_string(e).unwrap()); } }
    }
}
