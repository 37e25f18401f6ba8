//! Commands and their options (clap). Business logic lives in the library; this module loads config,
//! calls it, and hands the result to an output renderer in [`output`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::engine::{self, Scope};
use crate::pipeline::{self, Origin, State};

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

/// Where config, repo and state come from (every command that reads a repo takes these).
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Config file [default: ./config.toml when it exists, else built-in defaults].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The infra repo: a directory (a git checkout or a plain folder) or a URL to mirror (overrides
    /// `source.path` / `source.url`).
    #[arg(long, value_name = "URL|PATH")]
    pub repo: Option<String>,
    /// State directory: render cache, history, mirrors (overrides `state.dir`).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// Which environments and services a command looks at.
#[derive(Debug, Clone, clap::Args)]
pub struct Select {
    /// Only these environments (repeatable; parity needs at least two).
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// Only these services (repeatable).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render every service in every environment and check parity (the CI gate).
    Check {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Which environments and services.
        #[command(flatten)]
        select: Select,
        /// Ratchet: fail only for blocking findings the base (a branch, tag or commit of the same repo)
        /// does not have; the others are listed as "already present".
        #[arg(long, value_name = "REF")]
        base: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Fetch the repo, check it (and each environment's cluster, when configured) and record the run.
    Scan {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Read live objects from `kubectl get -o yaml` dumps (`DIR/<env>/*.yaml`) instead of clusters.
        #[arg(long, value_name = "DIR")]
        live_dir: Option<PathBuf>,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Compare each environment's cluster with Git: values changed, fields set by hand, objects missing
    /// or extra, and who changed them (read-only).
    Drift {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Which environments and services.
        #[command(flatten)]
        select: Select,
        /// Read live objects from `kubectl get -o yaml` dumps (`DIR/<env>/*.yaml`) instead of clusters.
        #[arg(long, value_name = "DIR")]
        live_dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Record the repo's past: check every first-parent commit not yet in the history, with its own time.
    Backfill {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Only commits since this date (2026-05-01) or for this long (90d, 12w, 6m, 1y, `1y 6months`).
        #[arg(long, value_name = "DATE|DURATION")]
        since: Option<String>,
        /// Only the newest N commits.
        #[arg(long, value_name = "N")]
        max_commits: Option<usize>,
    },
    /// Open findings with age and blame, recently resolved ones, and a service's ratio series.
    History {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Only this service (and show its limit ratios over time).
        #[arg(long, value_name = "NAME", conflicts_with = "jobs")]
        service: Option<String>,
        /// The daemon's last job runs (scan, report, digest: outcome, what failed and why) instead of
        /// findings.
        #[arg(long)]
        jobs: bool,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Render the static report site from the history (default output: reports/).
    Report {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Output directory (overrides `report.out`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Send the weekly digest of environments drifting apart (once per ISO week, recorded in the history).
    Digest {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// The ISO week, e.g. 2026-W47 [default: the last complete week in `digest.timezone`].
        #[arg(long, value_name = "YYYY-Www")]
        period: Option<String>,
        /// Write the complete MIME message instead of sending it (needs no [smtp] settings).
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: write the message to this file instead of stdout.
        #[arg(long, value_name = "FILE.eml", requires = "dry_run")]
        out: Option<PathBuf>,
        /// Send even if this period's digest was already sent.
        #[arg(long)]
        force: bool,
    },
    /// Show which services, environments and promotion order envparity finds in the repo.
    Discover {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run scans, report and digest on the schedules of `[daemon]` until SIGTERM or SIGINT (one daemon
    /// per state directory). Exit code 2 when config is invalid or another daemon holds the state.
    Daemon {
        /// Config, repo and state.
        #[command(flatten)]
        common: Common,
        /// Run each job once (scan, report, the digest if due) and exit: 0 when all succeeded, 1 when one
        /// failed (each failure is logged and recorded; the others still run).
        #[arg(long)]
        once: bool,
        /// Read live objects from `kubectl get -o yaml` dumps (`DIR/<env>/*.yaml`) instead of clusters.
        #[arg(long, value_name = "DIR")]
        live_dir: Option<PathBuf>,
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
    let verbose = cli.verbose > 0;
    match cli.command {
        Command::Check {
            common,
            select: Select { envs, services },
            base,
            format,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let scope = Scope {
                envs,
                services,
                skip_parity: false,
            };
            let spinner = progress("rendering and checking");
            let result = match &base {
                Some(base) => pipeline::gate(&ctx.config, &ctx.state, &ctx.origin, &scope, base)
                    .map(|g| (g.report.clone(), Some(g))),
                None => pipeline::check(&ctx.config, &ctx.state, &ctx.origin, &scope, None)
                    .map(|r| (r, None)),
            };
            spinner.finish_and_clear();
            let (report, gate) = match result {
                Ok(x) => x,
                Err(e) => {
                    match &base {
                        Some(base) => eprintln!("error: check --base {base}: {e}"),
                        None => eprintln!("error: {e}"),
                    }
                    return Ok(2);
                }
            };
            let root = ctx.origin.working_tree().unwrap_or_default();
            match &gate {
                Some(gate) => {
                    output::print_gate(gate, format, &root)?;
                    Ok(gate.exit_code())
                }
                None => {
                    output::print_report(&report, format, &root)?;
                    Ok(report.exit_code())
                }
            }
        }
        Command::Scan {
            common,
            live_dir,
            format,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let Ok(source) = live_source(&ctx, live_dir.as_deref()) else {
                return Ok(2);
            };
            let live = source.as_deref().map(|source| engine::Live {
                source,
                options: crate::live::LiveOptions::from_config(&ctx.config),
            });
            let spinner = progress("fetching, rendering and checking");
            let outcome = pipeline::scan(&ctx.config, &ctx.state, &ctx.origin, live.as_ref());
            spinner.finish_and_clear();
            match outcome {
                Ok(outcome) => {
                    output::print_scan(&outcome, format, verbose, chrono::Utc::now())?;
                    let mut code = outcome.exit_code();
                    if ctx.config.report.after_scan {
                        let out = ctx.config.report_dir();
                        if let Err(e) = build_report(&ctx, &out) {
                            eprintln!(
                                "error: the scan was recorded, but the report could not be written: {e}"
                            );
                            code = 2;
                        }
                    }
                    Ok(code)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        Command::Drift {
            common,
            select: Select { envs, services },
            live_dir,
            format,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let Ok(Some(source)) = live_source(&ctx, live_dir.as_deref()).inspect(|s| {
                if s.is_none() {
                    eprintln!(
                        "error: no live source: configure [clusters.<env>] in config.toml, or pass --live-dir DIR"
                    );
                }
            }) else {
                return Ok(2);
            };
            let live = engine::Live {
                source: source.as_ref(),
                options: crate::live::LiveOptions::from_config(&ctx.config),
            };
            let scope = Scope {
                envs,
                services,
                skip_parity: true,
            };
            let spinner = progress("rendering and reading the clusters");
            let result = pipeline::check(&ctx.config, &ctx.state, &ctx.origin, &scope, Some(&live));
            spinner.finish_and_clear();
            match result {
                Ok(report) => {
                    let root = ctx.origin.working_tree().unwrap_or_default();
                    output::print_report(&report, format, &root)?;
                    Ok(report.exit_code())
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        Command::Backfill {
            common,
            since,
            max_commits,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let since = match since.as_deref().map(|s| parse_since(s, chrono::Utc::now())) {
                Some(Err(e)) => {
                    eprintln!("error: --since {e}");
                    return Ok(2);
                }
                Some(Ok(t)) => Some(t),
                None => None,
            };
            let bar = counter("backfilling");
            let tick = |done: usize, total: usize, c: &crate::source::CommitInfo| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(format!("{} {}", short(&c.id), c.summary));
            };
            let result = pipeline::backfill(
                &ctx.config,
                &ctx.state,
                &ctx.origin,
                &pipeline::BackfillOptions { since, max_commits },
                &tick,
            );
            bar.finish_and_clear();
            match result {
                Ok(outcome) => {
                    output::print_backfill(&outcome, &ctx.state);
                    Ok(if outcome.fetch_error.is_some() { 2 } else { 0 })
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        Command::History {
            common,
            service,
            jobs,
            format,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let history = match crate::history::History::open(&ctx.state.history()) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            if jobs {
                output::print_job_runs(&history, format)?;
            } else {
                output::print_history(&history, service.as_deref(), format, chrono::Utc::now())?;
            }
            Ok(0)
        }
        Command::Report { common, out } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let out = out.unwrap_or_else(|| ctx.config.report_dir());
            match build_report(&ctx, &out) {
                Ok(n) => {
                    let _ = writeln!(
                        std::io::stdout(),
                        "report: {n} files written to {}",
                        out.display()
                    );
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
        }
        Command::Digest {
            common,
            period,
            dry_run,
            out,
            force,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            digest(&ctx, period.as_deref(), dry_run, out.as_deref(), force)
        }
        Command::Discover { common, format } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            let Some(root) = ctx.origin.working_tree() else {
                eprintln!("error: discover reads a local directory: pass --repo PATH");
                return Ok(2);
            };
            let discovery =
                crate::discover::discover(&root, &engine::discover_options(&ctx.config));
            output::print_discovery(&discovery, format)?;
            Ok(if discovery.problems.is_empty() { 0 } else { 2 })
        }
        Command::Daemon {
            common,
            once,
            live_dir,
        } => {
            let Some(ctx) = load(&common)? else {
                return Ok(2);
            };
            crate::daemon::init_logging(cli.verbose, ctx.config.daemon.log_format);
            let _lock = match crate::daemon::lock(&ctx.state.dir) {
                Ok(lock) => lock,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            let daemon = crate::daemon::Daemon::new(ctx.config, ctx.state, ctx.origin, live_dir);
            if once {
                return Ok(if daemon.run_once() { 0 } else { 1 });
            }
            match crate::daemon::run(daemon) {
                Ok(()) => Ok(0),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(2)
                }
            }
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
                let ids: Vec<&str> = crate::rules::all().map(|r| r.id()).collect();
                eprintln!("error: no rule `{rule}`; the rules are: {}", ids.join(", "));
                Ok(2)
            }
        },
    }
}

/// `envparity digest`: exit 0 when sent (or already sent, or quiet), 1 when sending failed (recorded;
/// the next run retries), 2 on a usage, config or history error.
fn digest(
    ctx: &Context,
    period: Option<&str>,
    dry_run: bool,
    out: Option<&std::path::Path>,
    force: bool,
) -> anyhow::Result<u8> {
    use crate::notify::{self, Period, RunOutcome};
    let tz = ctx.config.digest.tz();
    let now = chrono::Utc::now();
    let period = match period.map(|p| Period::parse(p, tz)) {
        Some(Err(e)) => {
            eprintln!("error: --period {e}");
            return Ok(2);
        }
        Some(Ok(p)) => p,
        None => Period::last_complete(now, tz),
    };
    if !dry_run && ctx.config.smtp.is_none() {
        eprintln!("error: {}", notify::NotifyError::NoSmtp);
        return Ok(2);
    }
    let mut history = match crate::history::History::open(&ctx.state.history()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let request = notify::Request {
        period,
        force,
        dry_run,
        now,
    };
    match notify::run(&mut history, &ctx.config, &request) {
        Ok(RunOutcome::AlreadySent(sent)) => {
            println!(
                "digest {}: already sent {} to {} ({}); --force sends it again",
                period.label(),
                sent.time.format("%Y-%m-%d %H:%M UTC"),
                sent.recipients.join(", "),
                sent.message_id
            );
            Ok(0)
        }
        Ok(RunOutcome::NothingScanned) => {
            println!(
                "digest {}: nothing was scanned up to the end of the period, nothing sent (--force sends anyway)",
                period.label()
            );
            Ok(0)
        }
        Ok(RunOutcome::Quiet) => {
            println!(
                "digest {}: all quiet, nothing sent (digest.send_when_quiet = false)",
                period.label()
            );
            Ok(0)
        }
        Ok(RunOutcome::DryRun { subject, eml }) => {
            match out {
                Some(path) => {
                    std::fs::write(path, &eml)
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    eprintln!(
                        "digest {}: \"{subject}\" written to {} (not sent)",
                        period.label(),
                        path.display()
                    );
                }
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&eml)?;
                }
            }
            Ok(0)
        }
        Ok(RunOutcome::Sent { subject, delivery }) => {
            println!(
                "digest {}: \"{subject}\" sent to {} ({})",
                period.label(),
                delivery.accepted.join(", "),
                delivery.message_id
            );
            for r in &delivery.rejected {
                eprintln!("warning: {} was not accepted: {}", r.address, r.error);
            }
            Ok(0)
        }
        Ok(RunOutcome::Failed { error }) => {
            eprintln!(
                "error: digest {} not sent (recorded; the next run retries): {error}",
                period.label()
            );
            Ok(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(2)
        }
    }
}

/// Renders the report site from the history into `out`.
fn build_report(ctx: &Context, out: &std::path::Path) -> anyhow::Result<usize> {
    let history = crate::history::History::open(&ctx.state.history())?;
    let options = crate::report::Options {
        prices: ctx.config.report.prices.clone(),
    };
    Ok(crate::report::build(&history, &options, out)?)
}

/// The configured live source (dump directory or clusters), printing why it cannot be set up.
fn live_source(
    ctx: &Context,
    live_dir: Option<&std::path::Path>,
) -> Result<Option<Box<dyn crate::live::source::LiveSource>>, ()> {
    pipeline::live_source(&ctx.config, live_dir).map_err(|e| eprintln!("error: {e}"))
}

/// What every repo-reading command starts from.
struct Context {
    config: Config,
    origin: Origin,
    state: State,
}

/// Loads config (printing its diagnostics) and resolves repo and state. `None` after printing why not.
fn load(common: &Common) -> anyhow::Result<Option<Context>> {
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
    if common
        .repo
        .as_deref()
        .is_some_and(crate::config::has_password)
    {
        eprintln!(
            "error: --repo carries a password or token: set `source.token_env` (or token_file) in config instead"
        );
        return Ok(None);
    }
    // Still on the main thread with no other thread started: the one place libgit2's globals may be set.
    if let Err(e) = crate::source::set_network_timeout(config.source.timeout()) {
        tracing::warn!(error = %e, "could not set the git network timeout");
    }
    let origin = match Origin::resolve(&config, common.repo.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(None);
        }
    };
    let state = State {
        dir: common.state.clone().unwrap_or_else(|| config.state_dir()),
    };
    Ok(Some(Context {
        config,
        origin,
        state,
    }))
}

/// `--since`: a date (`2026-05-01`), an RFC 3339 time, or a duration back from `now` as humantime reads
/// it (`90d`, `12w`, `36h`, `1y 6months`). Two short forms keep the meaning this flag always gave them:
/// `6m` is 6 × 30 days (humantime reads `m` as minutes: nobody backfills minutes) and `1y` is 365 days
/// (humantime: 365.25).
pub fn parse_since(
    s: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let back = match s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())) {
        (n, unit @ ("m" | "y")) if !n.is_empty() => {
            let days_per_unit = if unit == "m" { 30 } else { 365 };
            n.parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(days_per_unit))
                .and_then(chrono::Duration::try_days)
        }
        _ => {
            let d = humantime::parse_duration(s).map_err(|e| {
                format!(
                    "`{s}` is neither a date (2026-05-01) nor a duration (90d, 12w, 6m, 1y): {e}"
                )
            })?;
            chrono::Duration::from_std(d).ok()
        }
    };
    back.and_then(|back| now.checked_sub_signed(back))
        .ok_or_else(|| format!("`{s}` reaches back further than any date"))
}

/// The first 10 characters of a commit id.
pub fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// A counting progress bar on an interactive terminal; hidden in CI, cron and pipes.
fn counter(message: &'static str) -> indicatif::ProgressBar {
    if !interactive() {
        return indicatif::ProgressBar::hidden();
    }
    let style =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    indicatif::ProgressBar::new(0)
        .with_style(style)
        .with_prefix(message)
}

fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A spinner on an interactive terminal; hidden in CI, cron and pipes.
fn progress(message: &'static str) -> indicatif::ProgressBar {
    if !interactive() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_and_durations() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .expect("t")
            .to_utc();
        assert_eq!(
            parse_since("2026-05-01", now).expect("date").to_rfc3339(),
            "2026-05-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("90d", now).expect("d"),
            now - chrono::Duration::days(90)
        );
        assert_eq!(
            parse_since("2w", now).expect("w"),
            now - chrono::Duration::days(14)
        );
        // The short forms keep their meaning: m is 30 days, y is 365.
        assert_eq!(
            parse_since("6m", now).expect("m"),
            now - chrono::Duration::days(180)
        );
        assert_eq!(
            parse_since("1y", now).expect("y"),
            now - chrono::Duration::days(365)
        );
        assert_eq!(
            parse_since("180d", now).expect("d"),
            now - chrono::Duration::days(180)
        );
        // humantime's longer forms.
        assert_eq!(
            parse_since("12weeks", now).expect("weeks"),
            now - chrono::Duration::days(84)
        );
        assert_eq!(
            parse_since("1w 2d 12h", now).expect("compound"),
            now - chrono::Duration::hours(9 * 24 + 12)
        );
        assert_eq!(
            parse_since("2026-05-01T10:00:00+02:00", now)
                .expect("rfc 3339")
                .to_rfc3339(),
            "2026-05-01T08:00:00+00:00"
        );
        for bad in ["soon", "3x", "5", "", "m", "-5d", "99999999999999999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad:?}");
        }
        // Too far back for any date: an error, not a panic.
        for far in ["9999999999999999m", "999999999999y", "99999999999999d"] {
            assert!(parse_since(far, now).is_err(), "{far:?}");
        }
    }
}
