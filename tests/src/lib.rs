//! Helpers shared by purgeflow's workspace integration tests (`tests/tests/*.rs`): where the
//! repository's files are, the contract's JSON Schemas, and running `purge.asl.json` on the
//! engine.

pub mod cold_start;
pub mod fake_aws;
pub mod lambda_runtime_api;
pub mod local_env;
pub mod purge;
pub mod repo;
pub mod samples;
pub mod schemas;
pub mod stats;
