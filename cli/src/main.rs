//! `purgeflow`: validate and run state machine definitions locally, and check the ASL engine
//! against recorded AWS executions.
//!
//! Exit codes: 0 when everything is fine; 1 when the answer is "no" (an invalid definition, a
//! failed execution, a failing conformance case); 2 when the command itself could not do its
//! job (unreadable file, bad arguments); 3 when `local` kept stream records in its on-failure
//! store (they were not handed over even alone, after their retries).

mod args;
mod asl_test;
mod graph;
mod quiet_pipe;
mod run;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{AslCommand, Cli, Command};

/// What a command concluded, when it could run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Valid, succeeded, all passed.
    Ok,
    /// Invalid, failed, some cases failed: exit 1.
    NotOk,
    /// `local` kept records in its on-failure store: exit 3.
    RecordsSetAside,
}

/// Runs an async command (`local`, `demo`, `replay`: SDK calls) to completion.
fn block_on<T>(command: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?
        .block_on(command)
}

fn main() -> ExitCode {
    quiet_pipe::install();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Graph { definition } => graph::run(&definition).map(|()| Verdict::Ok),
        // The pipeline ran: exit 0 even when executions reported failures (they are on the
        // topic); 3 when records are in the on-failure store, which no one else reports.
        Command::Local(args) => block_on(purgeflow_cli::local::run(args)).map(|summary| {
            if summary.on_failure > 0 {
                Verdict::RecordsSetAside
            } else {
                Verdict::Ok
            }
        }),
        Command::Demo(args) => block_on(purgeflow_cli::demo::run(args)).map(|_| Verdict::Ok),
        Command::Replay(args) => block_on(purgeflow_cli::replay::run(args)).map(|summary| {
            if summary.all_done() {
                Verdict::Ok
            } else {
                Verdict::NotOk
            }
        }),
        Command::Simulate(args) => purgeflow_cli::simulate::run(&args).map(|_| Verdict::Ok),
        Command::Asl {
            command: AslCommand::Test(args),
        } => asl_test::run(&args),
    };
    match result {
        Ok(Verdict::Ok) => ExitCode::SUCCESS,
        Ok(Verdict::NotOk) => ExitCode::from(1),
        Ok(Verdict::RecordsSetAside) => ExitCode::from(3),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
