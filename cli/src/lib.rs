//! The parts of the `purgeflow` command that run the pipeline against AWS wire protocols:
//! `local` (the stream poller and the engine), `demo` (moto, provisioned and exercised),
//! `replay` (failure reports, run again), `simulate` (a delete storm against CloudFront's
//! limits, in virtual time), and `files` (reading the JSON files the commands take). A library
//! so the workspace integration tests and the side-by-side benchmark drive exactly the code the
//! command runs.

pub mod demo;
pub mod files;
pub mod in_process;
pub mod local;
pub mod replay;
pub mod simulate;
