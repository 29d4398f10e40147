//! The `quietwire` binary: parse the command line, run it, map the outcome to an exit status.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match quietwire::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let status = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => quietwire::exit::USAGE,
            };
            // Printing help or the error itself failing (closed stdout) leaves nothing to report.
            let _ = e.print();
            return ExitCode::from(status);
        }
    };
    ExitCode::from(quietwire::run::run(&cli.into_config()))
}
