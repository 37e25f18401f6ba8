//! The `envparity` binary: parses the command line and hands over to [`envparity::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = envparity::cli::Cli::parse();
    // The daemon sets up its own logging once its config (log format) is read.
    if !matches!(cli.command, envparity::cli::Command::Daemon { .. }) {
        envparity::cli::init_logging(cli.verbose);
    }
    match envparity::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
