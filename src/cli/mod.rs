//! Commands and their options (clap). Business logic lives in the library; this module loads config,
//! calls it, and hands the result to an output renderer in [`output`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::pipeline::{self, Origin, Purpose, Scope, State, Status};
use crate::source::short;

mod markdown;
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
    /// A pull-request comment (GitHub, GitLab): what the change breaks and fixes, what was already there;
    /// under 65,536 characters.
    Markdown,
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
    let status = match cli.command {
        Command::Check {
            common,
            select,
            base,
            format,
        } => check(&common, select, base.as_deref(), format)?,
        Command::Scan {
            common,
            live_dir,
            format,
        } => scan(&common, live_dir.as_deref(), format, cli.verbose > 0)?,
        Command::Drift {
            common,
            select,
            live_dir,
            format,
        } => drift(&common, select, live_dir.as_deref(), format)?,
        Command::Backfill {
            common,
            since,
            max_commits,
        } => backfill(&common, since.as_deref(), max_commits)?,
        Command::History {
            common,
            service,
            jobs,
            format,
        } => history(&common, service.as_deref(), jobs, format)?,
        Command::Report { common, out } => report(&common, out)?,
        Command::Digest {
            common,
            period,
            dry_run,
            out,
            force,
        } => digest(&common, period.as_deref(), dry_run, out.as_deref(), force)?,
        Command::Discover { common, format } => discover(&common, format)?,
        Command::Daemon {
            common,
            once,
            live_dir,
        } => daemon(&common, once, live_dir, cli.verbose)?,
        Command::Rules => {
            output::print_rules();
            Status::Ok
        }
        Command::Explain { rule } => explain(&rule),
    };
    Ok(status.code())
}

/// Prints `error: …` and gives the status of a command that could not do its work.
fn incomplete(e: impl std::fmt::Display) -> Status {
    eprintln!("error: {e}");
    Status::Incomplete
}

fn scope(select: Select) -> Scope {
    Scope {
        envs: select.envs,
        services: select.services,
        skip_parity: false,
    }
}

/// `envparity check [--base REF]`.
fn check(
    common: &Common,
    select: Select,
    base: Option<&str>,
    format: Format,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Check)? else {
        return Ok(Status::Incomplete);
    };
    let scope = scope(select);
    let spinner = progress("rendering and checking");
    let repo = checked_tree(&ctx);
    match base {
        Some(base) => {
            let gate = pipeline::gate(
                &ctx.config,
                &ctx.state,
                &ctx.origin,
                &scope,
                base,
                common.repo.as_deref(),
            );
            spinner.finish_and_clear();
            match gate {
                Ok(gate) => {
                    output::print_gate(&gate, format, &repo)?;
                    Ok(gate.status())
                }
                Err(e) => Ok(incomplete(format_args!("check --base {base}: {e}"))),
            }
        }
        None => {
            if let Err(e) = pipeline::refuse_checkout_credentials(
                &ctx.config,
                &ctx.origin,
                common.repo.as_deref(),
            ) {
                spinner.finish_and_clear();
                return Ok(incomplete(e));
            }
            let report = pipeline::check(&ctx.config, &ctx.state, &ctx.origin, &scope);
            spinner.finish_and_clear();
            match report {
                Ok(report) => {
                    output::print_report(&report, format, &repo)?;
                    Ok(report.status())
                }
                Err(e) => Ok(incomplete(e)),
            }
        }
    }
}

/// `envparity scan`, then the report site when `report.after_scan` is set.
fn scan(
    common: &Common,
    live_dir: Option<&Path>,
    format: Format,
    verbose: bool,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let spinner = progress("fetching, rendering and checking");
    let outcome = pipeline::scan(&ctx.config, &ctx.state, &ctx.origin, live_dir);
    spinner.finish_and_clear();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Ok(incomplete(e)),
    };
    output::print_scan(&outcome, format, verbose, chrono::Utc::now())?;
    let mut status = outcome.status();
    if ctx.config.report.after_scan
        && let Err(e) = pipeline::report(&ctx.config, &ctx.state, &ctx.config.report_dir())
    {
        status = status.max(incomplete(format_args!(
            "the scan was recorded, but the report could not be written: {e}"
        )));
    }
    Ok(status)
}

/// `envparity drift`.
fn drift(
    common: &Common,
    select: Select,
    live_dir: Option<&Path>,
    format: Format,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let spinner = progress("rendering and reading the clusters");
    let report = pipeline::drift(
        &ctx.config,
        &ctx.state,
        &ctx.origin,
        &scope(select),
        live_dir,
    );
    spinner.finish_and_clear();
    match report {
        Ok(report) => {
            output::print_report(&report, format, &checked_tree(&ctx))?;
            Ok(report.status())
        }
        Err(e) => Ok(incomplete(e)),
    }
}

/// `envparity backfill`.
fn backfill(
    common: &Common,
    since: Option<&str>,
    max_commits: Option<usize>,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let since = match since.map(|s| parse_since(s, chrono::Utc::now())) {
        Some(Err(e)) => return Ok(incomplete(format_args!("--since {e}"))),
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
            Ok(outcome.status())
        }
        Err(e) => Ok(incomplete(e)),
    }
}

/// `envparity history [--jobs]`.
fn history(
    common: &Common,
    service: Option<&str>,
    jobs: bool,
    format: Format,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let history = match crate::history::History::open(&ctx.state.history()) {
        Ok(h) => h,
        Err(e) => return Ok(incomplete(e)),
    };
    if jobs {
        output::print_job_runs(&history, format)?;
    } else {
        output::print_history(&history, service, format, chrono::Utc::now())?;
    }
    Ok(Status::Ok)
}

/// `envparity report [--out DIR]`.
fn report(common: &Common, out: Option<PathBuf>) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let out = out.unwrap_or_else(|| ctx.config.report_dir());
    match pipeline::report(&ctx.config, &ctx.state, &out) {
        Ok(n) => {
            writeln!(
                std::io::stdout(),
                "report: {n} files written to {}",
                out.display()
            )?;
            Ok(Status::Ok)
        }
        Err(e) => Ok(incomplete(e)),
    }
}

/// `envparity discover`.
fn discover(common: &Common, format: Format) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let Some(root) = ctx.origin.working_tree() else {
        return Ok(incomplete(
            "discover reads a local directory: pass --repo PATH",
        ));
    };
    let discovery = crate::discover::discover(&root, &pipeline::discover_options(&ctx.config));
    output::print_discovery(&discovery, format)?;
    Ok(if discovery.problems.is_empty() {
        Status::Ok
    } else {
        Status::Incomplete
    })
}

/// `envparity daemon [--once]`.
fn daemon(
    common: &Common,
    once: bool,
    live_dir: Option<PathBuf>,
    verbose: u8,
) -> anyhow::Result<Status> {
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    crate::daemon::init_logging(verbose, ctx.config.daemon.log_format);
    let _lock = match crate::daemon::lock(&ctx.state.dir) {
        Ok(lock) => lock,
        Err(e) => return Ok(incomplete(e)),
    };
    let daemon = crate::daemon::Daemon::new(ctx.config, ctx.state, ctx.origin, live_dir);
    if once {
        return Ok(if daemon.run_once() {
            Status::Ok
        } else {
            Status::Failed
        });
    }
    Ok(match crate::daemon::run(daemon) {
        Ok(()) => Status::Ok,
        Err(e) => incomplete(e),
    })
}

/// `envparity explain RULE`.
fn explain(rule: &str) -> Status {
    match rule.parse::<crate::codes::RuleId>() {
        Ok(r) => {
            output::print_explain(r);
            Status::Ok
        }
        Err(_) => {
            let ids: Vec<&str> = crate::codes::RuleId::ALL
                .iter()
                .map(|r| r.as_str())
                .collect();
            incomplete(format_args!(
                "no rule `{rule}`; the rules are: {}",
                ids.join(", ")
            ))
        }
    }
}

/// `envparity digest`: ok when sent (or already sent, or quiet), failed when sending failed (recorded; the
/// next run retries), incomplete on a usage, config or history error.
fn digest(
    common: &Common,
    period: Option<&str>,
    dry_run: bool,
    out: Option<&Path>,
    force: bool,
) -> anyhow::Result<Status> {
    use crate::notify::{Period, Request};
    let Some(ctx) = load(common, Purpose::Record)? else {
        return Ok(Status::Incomplete);
    };
    let tz = ctx.config.digest.tz();
    let now = chrono::Utc::now();
    let period = match period.map(|p| Period::parse(p, tz)) {
        Some(Err(e)) => return Ok(incomplete(format_args!("--period {e}"))),
        Some(Ok(p)) => p,
        None => Period::last_complete(now, tz),
    };
    let request = Request {
        period,
        force,
        dry_run,
        now,
    };
    match pipeline::digest(&ctx.config, &ctx.state, &request) {
        Ok(outcome) => output::print_digest(&period, outcome, out),
        Err(e) => Ok(incomplete(e)),
    }
}

/// The bounded reader of the checked working tree (the current directory when there is none, as before).
fn checked_tree(ctx: &Context) -> crate::input::Reader {
    crate::input::Reader::new(
        ctx.origin.working_tree().unwrap_or_default(),
        ctx.config.limits.max_file_bytes(),
    )
}

/// What every repo-reading command starts from.
struct Context {
    config: Config,
    origin: Origin,
    state: State,
}

/// Loads config (printing its diagnostics) and resolves repo and state. `None` after printing why not.
fn load(common: &Common, purpose: Purpose) -> anyhow::Result<Option<Context>> {
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
    let state = match State::resolve(&config, common.state.as_deref(), &origin, purpose) {
        Ok(resolved) => {
            if let Some(notice) = resolved.notice {
                eprintln!("{notice}");
            }
            resolved.state
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(None);
        }
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
