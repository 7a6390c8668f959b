//! Configuration from `PURGE_*` environment variables (shared by the Lambdas, the local runner
//! and the CDK stack).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{variable} is not set; expected {expected}")]
    Missing { variable: &'static str, expected: &'static str },
    #[error("{variable}={value:?} is invalid; expected {expected}")]
    Invalid { variable: &'static str, value: String, expected: String },
}
