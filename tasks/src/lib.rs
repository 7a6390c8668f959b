//! purgeflow's task library: plain functions behind the six Lambdas.
//!
//! Everything here is testable without a Lambda runtime; the binaries in `src/bin/` only set up
//! tracing and clients and call into this crate.

pub mod aws_errors;
pub mod batch_paths;
pub mod config;
pub mod contract;
pub mod delete;
pub mod error;
pub mod key_safety;
pub mod key_template;
pub mod records;
#[cfg(all(test, feature = "dynamodb"))]
mod sample_events;
pub mod trigger;
pub mod validation;
#[cfg(feature = "dynamodb")]
pub mod supersede;
#[cfg(feature = "dynamodb")]
pub mod validate_records;
#[cfg(feature = "cloudfront")]
pub mod invalidate;
#[cfg(feature = "asl")]
pub mod in_process;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod paths;
pub mod report;
#[cfg(test)]
pub(crate) mod schema_check;

pub use error::TaskError;
