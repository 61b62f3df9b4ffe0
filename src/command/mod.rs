//! The commands: each turns parsed arguments into a run and an [`ExitStatus`].

mod fetch_ahead;
mod git;
mod hook;
mod image;
mod merge;
mod org;
mod output;
mod repo_progress;
mod revoke;
mod rules;
mod scan;
mod setup;
mod state_run;

use std::io::ErrorKind;

use clap::Parser;

use crate::cli::{Cli, Command};
pub use crate::diag::error_chain;
use crate::exit::ExitStatus;

/// Parses the command line, runs the command and maps any error to exit code 2.
pub fn main() -> ExitStatus {
    // Outside text is redacted by the built-in rules until (or unless) a command loads the run's own.
    crate::text::use_builtin_key_finder(crate::scan::builtin_key_finder);
    let cli = Cli::parse();
    // Before any thread starts: libgit2's options are globals without a lock.
    crate::source::git::open_repositories_of_other_owners();
    match run(cli) {
        Ok(status) => status,
        Err(err) if is_broken_pipe(&err) => ExitStatus::Clean,
        Err(err) => {
            // Errors quote paths, rule files and server answers: through the choke point for outside text.
            eprintln!("keyhound: error: {}", crate::text::for_message(&error_chain(&err)));
            ExitStatus::Error
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Git(args) => git::run(args),
        Command::Image(args) => image::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Org(args) => org::run(args),
        Command::Rules(command) => rules::run(command),
        Command::Revoke(args) => revoke::run(args),
        Command::InstallHook(args) => hook::run(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "keyhound", &mut std::io::stdout());
            Ok(ExitStatus::Clean)
        }
    }
}

/// A closed pipe (`keyhound scan | head`) is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
