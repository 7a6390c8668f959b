//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "purgeflow",
    version,
    about = "Validate and run Step Functions state machines locally"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check state machine definitions; print every problem with its JSON path and code.
    Validate(ValidateArgs),
    /// Run one execution of a definition on the local engine (simulated time: Waits and
    /// Retry backoffs cost nothing).
    Run(RunArgs),
    /// Print a definition's Mermaid flowchart.
    Graph {
        /// The definition file (ASL JSON).
        definition: PathBuf,
    },
    /// Run the purge pipeline on this machine: poll the table's stream and run purge.asl.json
    /// on the engine with the real task handlers, against AWS_ENDPOINT_URL (or AWS). Reads the
    /// PURGE_* variables.
    Local(purgeflow_cli::local::Args),
    /// The whole story on one machine: start moto (installing it if missing), provision,
    /// upload photos, delete some, run the pipeline, show the outcome, replay, stop moto.
    Demo(purgeflow_cli::demo::Args),
    /// Start new executions from failure reports' replayInput: report files or the failure
    /// queue; locally on the engine, or on AWS with --state-machine-arn.
    Replay(purgeflow_cli::replay::Args),
    /// Simulate a delete storm (virtual time, seeded) against CloudFront's in-progress limits,
    /// with purgeflow's own packing and batching code, for each batching policy side by side.
    Simulate(purgeflow_cli::simulate::Args),
    /// Commands about the ASL engine itself.
    Asl {
        #[command(subcommand)]
        command: AslCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AslCommand {
    /// Run recorded AWS executions (conformance case files) and compare the results.
    Test(AslTestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Definition files (ASL JSON).
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// A JSON object of DefinitionSubstitutions: `${Name}` in a definition becomes its value.
    #[arg(long, value_name = "FILE")]
    pub(crate) substitutions: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The definition file (ASL JSON).
    pub(crate) definition: PathBuf,
    /// The execution input (JSON). Without it the input is `{}`, as in the console.
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Mocked task results in the Step Functions Local mock-config format.
    #[arg(long, value_name = "FILE", requires = "test_case")]
    pub(crate) mock_config: Option<PathBuf>,
    /// The test case in the mock config whose mocked results to use.
    #[arg(long, value_name = "NAME", requires = "mock_config")]
    pub(crate) test_case: Option<String>,
    /// The state machine's name, for the mock config and `$$.StateMachine.Name`
    /// (default: the definition file's name without extensions).
    #[arg(long, value_name = "NAME")]
    pub(crate) state_machine_name: Option<String>,
    /// A JSON object of DefinitionSubstitutions.
    #[arg(long, value_name = "FILE")]
    pub(crate) substitutions: Option<PathBuf>,
    /// Run as an Express workflow (5-minute limit).
    #[arg(long)]
    pub(crate) express: bool,
    /// Print one JSON document with everything, the execution history included.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AslTestArgs {
    /// Folders of case files, folders holding an `executions/` folder of them, or case files.
    #[arg(required = true)]
    pub(crate) dirs: Vec<PathBuf>,
    /// Only run cases with this feature tag (e.g. `jsonata`, `state:Map`).
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Option<String>,
    /// Also list passing and skipped cases.
    #[arg(long)]
    pub(crate) verbose: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_case_needs_a_mock_config() {
        let parsed = Cli::try_parse_from(["purgeflow", "run", "d.json", "--test-case", "T"]);
        assert!(parsed.is_err());
        let parsed = Cli::try_parse_from([
            "purgeflow",
            "run",
            "d.json",
            "--mock-config",
            "m.json",
            "--test-case",
            "T",
        ]);
        assert!(parsed.is_ok());
    }
}
