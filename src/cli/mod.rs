//! Commands and their options (clap). Business logic lives in the library; this module loads config,
//! calls it, and hands the result to an output renderer in [`output`].

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::engine::{self, Scope};
use crate::render::{CachedRenderer, Kustomize};

pub mod output;

/// Command line of `envparity`.
#[derive(Debug, Parser)]
#[command(
    name = "envparity",
    version,
    about = "Keeps Kubernetes environments honest: parity across Kustomize overlays"
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Grouped by service, values side by side.
    Text,
    /// DESIGN.md's JSON contract.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the PR).
    Github,
}

/// Where config and repo come from.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Config file [default: ./config.toml when it exists, else built-in defaults].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The infra repo to check (overrides `source.path`).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every service in every environment and check parity (the CI gate).
    Check {
        /// Config and repo.
        #[command(flatten)]
        common: Common,
        /// Only these environments (repeatable; at least two to compare).
        #[arg(long = "env", value_name = "ENV")]
        envs: Vec<String>,
        /// Only these services (repeatable).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show which services, environments and promotion order envparity finds in the repo.
    Discover {
        /// Config and repo.
        #[command(flatten)]
        common: Common,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List the parity rules.
    Rules,
    /// Print a rule's documentation.
    Explain {
        /// Rule id, e.g. `limit-inversion`.
        rule: String,
    },
}

/// Sets up `tracing` on stderr: warnings by default, more with `-v`; `RUST_LOG` overrides.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs a command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check {
            common,
            envs,
            services,
            format,
        } => {
            let Some((config, root)) = load(&common)? else {
                return Ok(2);
            };
            let kustomize = Kustomize::detect(&root).context("cannot render: no kustomize")?;
            let cache_dir = config.state_dir().join("cache").join("render");
            let renderer = CachedRenderer::new(kustomize, cache_dir, root.clone());
            let spinner = progress("rendering and checking");
            let report = engine::check(
                &config,
                &root,
                &Scope { envs, services },
                &renderer,
                chrono::Local::now().date_naive(),
            );
            spinner.finish_and_clear();
            let stats = renderer.stats();
            tracing::info!(hits = stats.hits, misses = stats.misses, "render cache");
            output::print_report(&report, format, &root)?;
            Ok(report.exit_code())
        }
        Command::Discover { common, format } => {
            let Some((config, root)) = load(&common)? else {
                return Ok(2);
            };
            let discovery = crate::discover::discover(&root, &engine::discover_options(&config));
            output::print_discovery(&discovery, format)?;
            Ok(if discovery.problems.is_empty() { 0 } else { 2 })
        }
        Command::Rules => {
            output::print_rules();
            Ok(0)
        }
        Command::Explain { rule } => match crate::rules::by_id(&rule) {
            Some(r) => {
                output::print_explain(r);
                Ok(0)
            }
            None => {
                let ids: Vec<&str> = crate::rules::RULES.iter().map(|r| r.id()).collect();
                eprintln!("error: no rule `{rule}`; the rules are: {}", ids.join(", "));
                Ok(2)
            }
        },
    }
}

/// Loads config (printing its diagnostics) and resolves the repo root. `None` when config is invalid.
fn load(common: &Common) -> anyhow::Result<Option<(Config, PathBuf)>> {
    let path = common.config.clone().or_else(|| {
        let default = PathBuf::from("config.toml");
        default.is_file().then_some(default)
    });
    let config = match path {
        Some(p) => match Config::load(&p) {
            Ok((config, warnings)) => {
                for w in warnings {
                    eprintln!("{w}");
                }
                config
            }
            Err(ConfigError::Invalid { diagnostics, .. }) => {
                for d in diagnostics {
                    eprintln!("{d}");
                }
                return Ok(None);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(None);
            }
        },
        None => Config::default(),
    };
    let root = common.repo.clone().unwrap_or_else(|| config.repo_path());
    if !root.is_dir() {
        eprintln!("error: repo {} is not a directory", root.display());
        return Ok(None);
    }
    Ok(Some((config, root)))
}

/// A spinner on an interactive terminal; hidden in CI, cron and pipes.
fn progress(message: &'static str) -> indicatif::ProgressBar {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}
