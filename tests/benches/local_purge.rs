//! Being written: see the local_purge benchmark in the report.
fn main() {}
