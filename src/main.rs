//! The `envparity` binary: parses the command line and hands over to [`envparity::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Test builds only (`--features failpoints`): the fail points named in `FAILPOINTS` are armed for the
    // whole run.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = envparity::cli::Cli::parse();
    // The daemon sets up its own logging once its config (log format) is read.
    if !matches!(cli.command, envparity::cli::Command::Daemon { .. }) {
        envparity::cli::init_logging(cli.verbose);
    }
    match envparity::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        // The reader went away (`envparity check | head`): stop quietly, with the status a process killed by
        // SIGPIPE has (128 + 13), so a pipeline never mistakes it for a passing check.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::from(141)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
