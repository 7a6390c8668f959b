//! purgeflow's task library: plain functions behind the six Lambdas.
//!
//! Everything here is testable without a Lambda runtime; the binaries in `src/bin/` only set up
//! tracing and clients and call into this crate.

pub mod config;
pub mod contract;
pub mod error;

pub use error::TaskError;
