//! The `envparity` binary: parses the command line and hands over to [`envparity::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = envparity::cli::Cli::parse();
    envparity::cli::init_logging(cli.verbose);
    match envparity::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
