//! purgeflow's task library: plain functions behind the seven Lambdas.
//!
//! Everything here is testable without a Lambda runtime; the binaries in `src/bin/` only set up
//! tracing and clients and call into this crate.

pub mod aws_errors;
#[cfg(feature = "sqs")]
pub mod backlog_gate;
pub mod batch_paths;
pub mod config;
pub mod contract;
pub mod delete;
pub mod dispatch;
pub mod error;
#[cfg(feature = "cloudfront")]
pub mod invalidate;
pub mod key_safety;
pub mod key_template;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod paths;
pub mod pressure;
pub mod records;
pub mod replay_check;
pub mod report;
#[cfg(all(test, feature = "dynamodb", feature = "kms"))]
mod sample_events;
#[cfg(test)]
pub(crate) mod schema_check;
pub mod signing;
#[cfg(feature = "dynamodb")]
pub mod supersede;
pub mod trigger;
#[cfg(all(feature = "dynamodb", feature = "kms"))]
pub mod validate_records;
pub mod validation;

pub use error::TaskError;
