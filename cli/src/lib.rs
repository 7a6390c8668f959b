//! The parts of the `purgeflow` command that run the pipeline against AWS wire protocols:
//! `local` (the stream poller and the engine), `demo` (moto, provisioned and exercised),
//! `replay` (failure reports, run again), and `simulate` (a delete storm against CloudFront's
//! limits, in virtual time). A library so the workspace integration tests and the
//! side-by-side benchmark drive exactly the code the command runs.

pub mod demo;
pub mod in_process;
pub mod local;
pub mod replay;
pub mod simulate;
