//! `config.toml`: schema, defaults, and validation that reports every problem with file and line at once.
//!
//! Parsing is in two phases (as cargo-deny does it): the TOML document is parsed into a spanned tree, then
//! each section (and each rule, service and exception inside it) is deserialised on its own, so one bad
//! value does not hide the problems after it. Unknown keys are errors, located by walking the spanned tree.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::codes::{RuleId, Severity};

/// The whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it was read from (`None` for built-in defaults).
    pub file: Option<PathBuf>,
    /// Where the infra repo is.
    pub source: SourceConfig,
    /// How services and environments are laid out in the repo.
    pub layout: LayoutConfig,
    /// Environments and their promotion order.
    pub environments: EnvironmentsConfig,
    /// Where envparity keeps its state (render cache, later history).
    pub state: StateConfig,
    /// Bounds on what envparity reads.
    pub limits: LimitsConfig,
    /// The static report site.
    pub report: ReportConfig,
    /// Live drift settings.
    pub live: LiveConfig,
    /// The cluster of each environment, by environment name.
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// The cluster of each Argo CD destination (its `name`, else its `server` URL) the repo's Applications
    /// deploy to: used for environments without `[clusters.<env>]`.
    pub destinations: BTreeMap<String, ClusterConfig>,
    /// Per-rule policy, by rule id.
    pub rules: BTreeMap<RuleId, RulePolicy>,
    /// Per-service overrides, by service name.
    pub services: BTreeMap<String, ServiceConfig>,
    /// Findings accepted for a while, with a reason.
    pub exceptions: Vec<Exception>,
    /// The weekly email digest.
    pub digest: DigestConfig,
    /// The mail server the digest is sent through (none: the digest can only be written with `--dry-run`).
    pub smtp: Option<SmtpConfig>,
    /// `envparity daemon`: schedules, health and logs.
    pub daemon: DaemonConfig,
}

/// `[source]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceConfig {
    /// A local checkout of the infra repo (relative paths are relative to the config file); `check` reads
    /// its working tree as it is, `scan` and `backfill` read its commits. Default: the current directory.
    pub path: Option<PathBuf>,
    /// A remote to mirror instead (`https://…`, `ssh://…`, `git@host:path`, `git://…`, `file://…`): cloned
    /// once into the state directory, fetched on every scan. Never put a password or token in it.
    pub url: Option<String>,
    /// Branch to follow. Default: the remote's default branch.
    pub branch: Option<String>,
    /// Where the layout starts inside the repository (for a monorepo), e.g. `deploy`. Default: the root.
    pub subdir: Option<PathBuf>,
    /// User name for https token auth (default `x-access-token`) or ssh (default: the URL's, else `git`).
    pub username: Option<String>,
    /// Name of the environment variable holding an https token, e.g. `GIT_TOKEN`.
    pub token_env: Option<String>,
    /// A file holding an https token (e.g. a mounted Kubernetes Secret).
    pub token_file: Option<PathBuf>,
    /// An ssh private key file. Default: the ssh agent.
    pub ssh_key: Option<PathBuf>,
    /// A fetch that receives nothing for this many seconds fails (and is retried on the next scan);
    /// connecting gives up after at most 30. Default: 120.
    pub timeout_seconds: Option<u64>,
}

impl SourceConfig {
    /// The network timeout of fetches (`timeout_seconds`, default 120 s).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(120))
    }
}

/// `[layout]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LayoutConfig {
    /// Patterns of overlay directories with `{service}` and `{env}` placeholders, e.g.
    /// `apps/{service}/overlays/{env}`. Default: detect the common layouts.
    #[serde(default)]
    pub overlays: Vec<String>,
    /// Pattern of a service's base directory, e.g. `apps/{service}/base`. Default: the `base` directory next to
    /// the overlays' parent, when it exists.
    pub base: Option<String>,
    /// Overlay directories to leave out, as globs relative to the repo (`apps/legacy-helm/**`); an overlay is
    /// left out when the glob matches its directory or one of its parents. For overlays envparity cannot
    /// render (Helm charts, remote bases), so they do not fail every check. Default: none.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// When set, discovery only considers what lies inside these globs (relative to the repo, matched like
    /// `exclude`: the directory or one of its parents), e.g. `["apps/**", "clusters/prod-*/**"]`: overlays
    /// of the patterns, roots of the kustomization graph, directories GitOps objects deploy. `exclude` still
    /// applies inside. Services configured with `services.<name>.overlays` are placed anyway. Default: none
    /// (the whole repo).
    #[serde(default)]
    pub include: Vec<String>,
}

/// `[environments]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EnvironmentsConfig {
    /// Promotion order, earliest first; the last tier is the reference. Environments whose names share an
    /// environment word (`prod-us`, `prod-eu`) are peers of one tier, the first listed its reference peer.
    /// Default: inferred from the names.
    #[serde(default)]
    pub order: Vec<String>,
    /// Tiers in promotion order, each a list of peers with the reference peer first, e.g.
    /// `[["dev"], ["staging"], ["prod-us", "prod-eu"]]`: instead of `order`, never with it. Default: none.
    #[serde(default)]
    pub tiers: Vec<Vec<String>>,
    /// The environment words per tier, earliest tier first (`[["dev", "develop", "sandbox"], ["qa", "test"],
    /// …]`), replacing the default ones: they recognise environments in paths and decide each one's tier.
    /// Default: dev/develop/development/local/sandbox, qa/test/testing/int/integration/ci/sit,
    /// perf/performance/load/loadtest/stress, uat/stage/staging/stg/preprod/pre-prod/preproduction,
    /// prod/production/prd/live.
    #[serde(default)]
    pub vocabulary: Vec<Vec<String>>,
    /// Environments to leave out of every check.
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// `[state]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StateConfig {
    /// State directory (render cache, history, mirrors), relative to the config file. Default: the user's
    /// cache directory, one per repository (`pipeline::State::resolve`); `check` never uses one inside the
    /// tree it checks.
    pub dir: Option<PathBuf>,
    /// `scan` removes render cache entries no render has used for this many days. Default: 30.
    pub render_cache_days: Option<u64>,
    /// How long `scan`, `backfill`, `report` and `digest` (CLI commands and daemon jobs alike) wait for
    /// another process running the same job on this state directory to finish (`<state>/locks/<job>.lock`)
    /// before giving up with an error. `0` gives up at once. Default: 60.
    pub lock_timeout_seconds: Option<u64>,
}

impl StateConfig {
    /// How long an unused render cache entry is kept.
    pub fn render_cache_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.render_cache_days.unwrap_or(30).saturating_mul(86_400))
    }

    /// How long a job waits for its state lock (`lock_timeout_seconds`).
    pub fn lock_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lock_timeout_seconds.unwrap_or(60))
    }
}

/// `[limits]`: bounds on the input envparity reads itself, so that a hostile repository gets an error
/// naming the file instead of a crash, a hang or an out-of-memory kill (DESIGN.md, "Untrusted input").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LimitsConfig {
    /// The most bytes envparity reads from one file: kustomizations and every other input of an overlay,
    /// live dump files, `config.toml` itself (always with the default, as it is read before this is known).
    /// A larger file is an error naming it, for that overlay only. Default: 33554432 (32 MiB: vendored CRD
    /// bundles are several MiB).
    pub max_file_bytes: Option<u64>,
}

impl LimitsConfig {
    /// `max_file_bytes`, or its default.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
            .unwrap_or(crate::input::DEFAULT_MAX_BYTES)
    }
}

/// `[live]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LiveConfig {
    /// Field managers of the GitOps tool: fields they own are Git's. Default: Argo CD's and Flux's
    /// (`argocd-controller`, `argocd-application-controller`, `kustomize-controller`, `helm-controller`).
    #[serde(default)]
    pub gitops_managers: Vec<String>,
    /// Label whose value names the service (or `<service>-<env>`, Argo CD's usual application name) on
    /// live objects, so objects made by hand are found. Default: `app.kubernetes.io/instance`.
    pub tracking_label: Option<String>,
    /// A directory of `kubectl get -o yaml` dumps, one sub-folder per environment, read instead of
    /// clusters (relative to this file). Default: none.
    pub dir: Option<PathBuf>,
}

/// `[clusters.<env>]`: how to reach an environment's cluster (read-only).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterConfig {
    /// Kubeconfig file. Default: the usual resolution (`$KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context. Default: the current context.
    pub context: Option<String>,
    /// Namespace of objects Git declares without one. Default: the overlay's `namespace`.
    pub namespace: Option<String>,
    /// Seconds to wait for the API server per request. Default: 20.
    pub timeout_seconds: Option<u64>,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportConfig {
    /// Output directory of the site. Default: `reports` next to the config file.
    pub out: Option<PathBuf>,
    /// Render the site after every `scan`. Default: false.
    #[serde(default)]
    pub after_scan: bool,
    /// Where the site is served (links in emails). Default: none.
    pub base_url: Option<String>,
    /// Prices for the cost view. Default: none (the cost view shows cores and GiB only).
    pub prices: Option<Prices>,
}

/// `[report.prices]`: what a requested core and GiB cost.
#[derive(Debug, Clone, Deserialize)]
pub struct Prices {
    /// Price of one requested core for one hour.
    pub core_hour: f64,
    /// Price of one requested GiB of memory for one hour.
    pub gib_hour: f64,
    /// Currency shown next to prices. Default: `USD`.
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_currency() -> String {
    "USD".into()
}

/// `[digest]`: what the weekly email says and when it is due.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DigestConfig {
    /// When the daemon sends it, as a 5-field cron expression in `timezone`. Default: `0 8 * * 1` (Monday
    /// 08:00).
    pub schedule: String,
    /// IANA time zone whose ISO weeks are the digest's periods (Monday 00:00 to Monday 00:00 there), e.g.
    /// `Europe/Berlin`. Default: `UTC`.
    pub timezone: String,
    /// A cross-environment limit ratio counts as "drifting apart" when its distance from 1 grew by at least
    /// this factor over the week (1.25: production÷staging went from 2× to 2.5×, or from ½ to ⅖). At least 1.
    /// Default: 1.1.
    pub min_widening: f64,
    /// How many ratio charts (the ratios that widened most) the email shows as inline images. Default: 3.
    pub charts: usize,
    /// How many of the oldest open findings the email lists. Default: 5.
    pub oldest: usize,
    /// Send a short "all quiet" message for a week with nothing to say (false: send nothing). Default: true.
    pub send_when_quiet: bool,
    /// After a failed send, the daemon waits this many minutes before the first retry, doubling after each
    /// further failure. Default: 15.
    pub retry_minutes: u64,
    /// The longest wait between retries, in minutes. Default: 240.
    pub max_retry_minutes: u64,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            schedule: "0 8 * * 1".into(),
            timezone: "UTC".into(),
            min_widening: 1.1,
            charts: 3,
            oldest: 5,
            send_when_quiet: true,
            retry_minutes: 15,
            max_retry_minutes: 240,
        }
    }
}

impl DigestConfig {
    /// The configured time zone (UTC when the name is unknown; config validation reports that).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Log output of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// `[daemon]`: what `envparity daemon` runs and when. Cron expressions take the usual 5 fields (minute hour
/// day month weekday; day and weekday must both match when both are set); a 6-field form with a leading
/// seconds field is accepted too (for tests and demos: `*/5 * * * * *` is every 5 seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DaemonConfig {
    /// When to scan (fetch, check, record), in `timezone`. Default: `*/15 * * * *` (every 15 minutes).
    pub scan: String,
    /// When to republish the report site: `after-scan` (after every scan) or a cron expression. Default:
    /// `after-scan`.
    pub report: String,
    /// When to send the weekly digest if it is due (it is sent once per period; without `[smtp]` it is
    /// skipped). Default: `digest.schedule`.
    pub digest: Option<String>,
    /// IANA time zone of the schedules. Default: `digest.timezone`.
    pub timezone: Option<String>,
    /// `/healthz` answers 503 when the last scan is older than this. Default: 60.
    pub max_scan_age_minutes: u64,
    /// Address of the HTTP listener for `/healthz` and `/metrics`, e.g. `127.0.0.1:9464`. Default: none
    /// (no listener).
    pub listen: Option<String>,
    /// Whether the listener also serves the report site (`report.out`) under `/`. Default: false.
    pub serve_site: bool,
    /// After a job fails, its ticks are skipped for this many seconds, doubling with each further failure
    /// (with up to 20 % jitter below the delay). Default: 60.
    pub backoff_seconds: u64,
    /// The longest backoff. Default: 3600.
    pub max_backoff_seconds: u64,
    /// On SIGTERM or SIGINT, how long a running job may take to finish its write before the daemon exits.
    /// Default: 30.
    pub shutdown_timeout_seconds: u64,
    /// `text` or `json`. Default: `text`.
    pub log_format: LogFormat,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            scan: "*/15 * * * *".into(),
            report: "after-scan".into(),
            digest: None,
            timezone: None,
            max_scan_age_minutes: 60,
            listen: None,
            serve_site: false,
            backoff_seconds: 60,
            max_backoff_seconds: 3600,
            shutdown_timeout_seconds: 30,
            log_format: LogFormat::Text,
        }
    }
}

/// The `report` value that republishes the site after every scan.
pub const AFTER_SCAN: &str = "after-scan";

/// A cron expression in tokio-cron-scheduler's form (a leading seconds field): 5 fields get `0` seconds,
/// 6 fields are taken as they are. Checked with the parser and options the scheduler uses.
pub fn scheduler_cron(expr: &str) -> Result<String, String> {
    parse_cron(expr).map(|(six, _)| six)
}

/// Parses a cron expression: 5 fields (minute hour day month weekday; day and weekday must both match
/// when both are set), or 6 with seconds first. Returns the scheduler's 6-field form.
pub fn parse_cron(expr: &str) -> Result<(String, croner::Cron), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let six = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 => fields.join(" "),
        n => {
            return Err(format!(
                "`{expr}` has {n} field(s); expected 5 (minute hour day month weekday), or 6 with seconds first"
            ));
        }
    };
    // The options tokio-cron-scheduler parses its own expressions with.
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&six)
        .map_err(|e| format!("`{expr}` is not a valid cron expression ({e})"))?;
    Ok((six, cron))
}

impl DaemonConfig {
    /// The digest schedule: `daemon.digest`, else `digest.schedule`.
    pub fn digest_schedule<'c>(&'c self, digest: &'c DigestConfig) -> &'c str {
        self.digest.as_deref().unwrap_or(&digest.schedule)
    }

    /// The schedules' time zone: `daemon.timezone`, else `digest.timezone` (UTC when unknown).
    pub fn tz(&self, digest: &DigestConfig) -> chrono_tz::Tz {
        match &self.timezone {
            Some(t) => t.parse().unwrap_or(chrono_tz::UTC),
            None => digest.tz(),
        }
    }

    /// Whether the site is republished after every scan.
    pub fn report_after_scan(&self) -> bool {
        self.report.trim() == AFTER_SCAN
    }
}

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network (port 25).
    None,
}

/// `[smtp]`: the mail server. The password is never written here: name an environment variable or a file.
#[derive(Debug, Clone, Deserialize)]
pub struct SmtpConfig {
    /// Host name or IP address of the server (required).
    pub host: String,
    /// Port. Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    /// `starttls`, `tls` or `none`. Default: `starttls`.
    #[serde(default)]
    pub tls: TlsMode,
    /// A PEM file of CA certificates trusted in addition to the system's (a private CA). Default: none.
    pub ca_file: Option<PathBuf>,
    /// User name for SMTP AUTH. Default: no authentication.
    pub username: Option<String>,
    /// Environment variable holding the SMTP password (with `username`).
    pub password_env: Option<String>,
    /// File holding the SMTP password, e.g. a mounted Kubernetes Secret (with `username`); a trailing
    /// newline is ignored.
    pub password_file: Option<PathBuf>,
    /// Sender, e.g. `envparity <envparity@example.com>` (required).
    pub from: String,
    /// Recipients (at least one).
    #[serde(default)]
    pub to: Vec<String>,
    /// Copy recipients. Default: none.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Seconds to wait for the server per command. Default: 30.
    pub timeout_seconds: Option<u64>,
}

impl SmtpConfig {
    /// The port in use: the configured one, or the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        })
    }
}

/// A severity as config spells it: a [`Severity`] or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The rule is not run.
    Off,
    /// Recorded only.
    Info,
    /// Reported, does not fail `check`.
    Warn,
    /// Fails `check`.
    Block,
}

impl Level {
    /// The severity, or `None` for `off`.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Info => Some(Severity::Info),
            Level::Warn => Some(Severity::Warn),
            Level::Block => Some(Severity::Block),
        }
    }
}

/// `[rules.<id>]` or `[services.<name>.rules.<id>]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct RulePolicy {
    /// Severity (`block`, `warn`, `info`, `off`). Default: the rule's own.
    pub severity: Option<Level>,
    /// The rule's threshold (limit-scale: factor, default 4; request-limit-ratio: tolerance, default 1.5;
    /// overlay-patch-count: patches, default 10). Only rules with a threshold accept it.
    pub threshold: Option<f64>,
}

/// `[services.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServiceConfig {
    /// Per-rule overrides for this service.
    #[serde(default)]
    pub rules: BTreeMap<RuleId, RulePolicy>,
    /// Leave this service out entirely.
    #[serde(default)]
    pub ignore: bool,
    /// Every environment of the service and its overlay directory (relative to the repo, or to
    /// `source.subdir`), e.g. `{ dev = "apps/web/dev", prod = "deploy/prod/web" }`: the service is placed
    /// exactly so, whatever discovery finds, and no other service gets these directories. A directory
    /// holds a kustomization, or a Flux Kustomization deploys it. Default: none (discovered).
    #[serde(default)]
    pub overlays: BTreeMap<String, PathBuf>,
    /// The base those overlays share (only with `overlays`). Default: none.
    pub base: Option<PathBuf>,
}

/// Names a service's overlays may not take: `base` stands for the base wherever overlays are rendered.
const NOT_AN_ENV: [&str; 1] = ["base"];

/// `[[exceptions]]`: hides matching findings until `expires`.
#[derive(Debug, Clone)]
pub struct Exception {
    /// Service the exception is for.
    pub service: String,
    /// Rule id.
    pub rule: RuleId,
    /// Only this container (default: any).
    pub container: Option<String>,
    /// Only this field (default: any).
    pub field: Option<String>,
    /// Why the difference is accepted (required).
    pub reason: String,
    /// Last day the exception applies (required): an expired exception stops hiding its finding.
    pub expires: NaiveDate,
    /// Line in the config file, for warnings.
    pub line: usize,
}

#[derive(Deserialize)]
struct RawException {
    service: String,
    rule: String,
    container: Option<String>,
    field: Option<String>,
    reason: String,
    expires: toml::value::Datetime,
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: DiagnosticLevel,
    /// The config file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// Whether a diagnostic stops envparity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticLevel {
    /// The config cannot be used.
    Error,
    /// Worth fixing; envparity goes on.
    Warning,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            DiagnosticLevel::Error => "error",
            DiagnosticLevel::Warning => "warning",
        };
        write!(
            f,
            "{level}: {}:{}: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// A config file that cannot be used: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (the error names it).
    #[error("{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why: missing, unreadable, not a regular file, too large, not UTF-8.
        source: crate::input::ReadError,
    },
    /// The file has problems.
    #[error("{} has {} problem(s):\n{}", file.display(), diagnostics.len(), diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every error (warnings excluded).
        diagnostics: Vec<Diagnostic>,
    },
}

impl Config {
    /// Reads and validates a config file. Returns the config and its warnings, or every error.
    ///
    /// The file goes through the bounded reader like every other input (in CI it may come from the checked
    /// repository): a regular file whose links stay in its own directory, at most the default
    /// `limits.max_file_bytes`.
    pub fn load(path: &Path) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
        let text = crate::input::read_file_to_string(path, crate::input::DEFAULT_MAX_BYTES)
            .map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` names the file in diagnostics and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
        let mut p = Parser {
            text,
            file: path.to_path_buf(),
            diagnostics: Vec::new(),
        };
        let config = p.config();
        let (errors, warnings): (Vec<_>, Vec<_>) = p
            .diagnostics
            .into_iter()
            .partition(|d| d.level == DiagnosticLevel::Error);
        if errors.is_empty() {
            Ok((config, warnings))
        } else {
            let mut diagnostics = errors;
            diagnostics.sort_by_key(|d| d.line);
            Err(ConfigError::Invalid {
                file: path.to_path_buf(),
                diagnostics,
            })
        }
    }

    /// The directory relative paths in the config are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The infra repo's path.
    pub fn repo_path(&self) -> PathBuf {
        let dir = self.base_dir();
        match &self.source.path {
            Some(p) => dir.join(p),
            None if dir.as_os_str().is_empty() => PathBuf::from("."),
            None => dir,
        }
    }

    /// The report site's output directory.
    pub fn report_dir(&self) -> PathBuf {
        self.base_dir()
            .join(self.report.out.as_deref().unwrap_or(Path::new("reports")))
    }
}

struct Parser<'a> {
    text: &'a str,
    file: PathBuf,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Parser<'a> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].matches('\n').count() + 1
    }

    fn push(&mut self, level: DiagnosticLevel, line: usize, message: String) {
        self.diagnostics.push(Diagnostic {
            level,
            file: self.file.clone(),
            line,
            message,
        });
    }

    fn error(&mut self, span: &Range<usize>, message: String) {
        let line = self.line(span);
        self.push(DiagnosticLevel::Error, line, message);
    }

    fn config(&mut self) -> Config {
        let mut config = Config {
            file: Some(self.file.clone()),
            ..Config::default()
        };
        let (root, errors) = DeTable::parse_recoverable(self.text);
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            self.error(&span, format!("TOML syntax: {}", e.message().trim()));
        }
        for (key, value) in root.into_inner() {
            let name = key.get_ref().as_ref();
            match name {
                "source" => {
                    let span = locate(&value, &["url".into()]).unwrap_or_else(|| value.span());
                    let timeout = locate(&value, &["timeout_seconds".into()])
                        .unwrap_or_else(|| value.span());
                    config.source = self.section(value, name).unwrap_or_default();
                    if config.source.timeout_seconds == Some(0) {
                        self.error(&timeout, "`source.timeout_seconds` must be positive".into());
                    }
                    if config.source.url.as_deref().is_some_and(has_password) {
                        self.error(
                            &span,
                            "`source.url` carries a password or token: remove it and name an environment variable in `source.token_env` (or a file in `source.token_file`)".into(),
                        );
                    }
                }
                "layout" => {
                    let span = locate(&value, &["overlays".into()]).unwrap_or_else(|| value.span());
                    let exclude = locate(&value, &["exclude".into()]).unwrap_or_else(|| value.span());
                    let include = locate(&value, &["include".into()]).unwrap_or_else(|| value.span());
                    config.layout = self.section(value, name).unwrap_or_default();
                    for pattern in &config.layout.overlays {
                        if !pattern.contains("{env}") {
                            self.error(&span, format!("layout pattern `{pattern}` has no `{{env}}` placeholder"));
                        }
                    }
                    for (key, globs, span) in [
                        ("exclude", &config.layout.exclude, &exclude),
                        ("include", &config.layout.include, &include),
                    ] {
                        for glob in globs {
                            if let Err(e) = globset::Glob::new(glob) {
                                self.error(span, format!("`layout.{key}` entry `{glob}` is not a glob: {}", e.kind()));
                            }
                        }
                    }
                }
                "environments" => {
                    let whole = value.clone();
                    config.environments = self.section(value, name).unwrap_or_default();
                    self.check_environments(&config.environments, &whole);
                }
                "state" => {
                    let days = locate(&value, &["render_cache_days".into()])
                        .unwrap_or_else(|| value.span());
                    config.state = self.section(value, name).unwrap_or_default();
                    if config.state.render_cache_days == Some(0) {
                        self.error(&days, "`state.render_cache_days` must be positive".into());
                    }
                }
                "limits" => {
                    let bytes = locate(&value, &["max_file_bytes".into()])
                        .unwrap_or_else(|| value.span());
                    config.limits = self.section(value, name).unwrap_or_default();
                    match config.limits.max_file_bytes {
                        Some(0) => {
                            self.error(&bytes, "`limits.max_file_bytes` must be positive".into());
                        }
                        Some(n) if n > crate::input::MAX_MAX_BYTES => self.error(
                            &bytes,
                            format!(
                                "`limits.max_file_bytes` is at most {} (128 MiB): a repository's config must not make envparity read any file whole without bound",
                                crate::input::MAX_MAX_BYTES
                            ),
                        ),
                        _ => {}
                    }
                }
                "live" => config.live = self.section(value, name).unwrap_or_default(),
                "clusters" => {
                    for (env, v) in self.table_entries(value, "clusters") {
                        let path = format!("clusters.{}", env.get_ref());
                        if let Some(c) = self.section(v, &path) {
                            config.clusters.insert(env.into_inner(), c);
                        }
                    }
                }
                "destinations" => {
                    for (dest, v) in self.table_entries(value, "destinations") {
                        let path = format!("destinations.\"{}\"", dest.get_ref());
                        if let Some(c) = self.section(v, &path) {
                            config.destinations.insert(dest.into_inner(), c);
                        }
                    }
                }
                "report" => {
                    let span = value.span();
                    config.report = self.section(value, name).unwrap_or_default();
                    if let Some(p) = &config.report.prices
                        && !(p.core_hour >= 0.0 && p.gib_hour >= 0.0)
                    {
                        self.error(&span, "`report.prices` must be non-negative numbers".into());
                    }
                }
                "digest" => {
                    let span = value.span();
                    config.digest = self.section(value, name).unwrap_or_default();
                    self.check_digest(&config.digest, &span);
                }
                "smtp" => {
                    let span = value.span();
                    if let Some(p) = locate(&value, &["password".into()]) {
                        self.error(
                            &p,
                            "`smtp.password` is not accepted: passwords never go in config.toml; name an environment variable in `smtp.password_env` or a file in `smtp.password_file`".into(),
                        );
                    } else {
                        config.smtp = self.section(value, name);
                        if let Some(smtp) = &config.smtp {
                            self.check_smtp(smtp, &span);
                        }
                    }
                }
                "daemon" => {
                    let whole = value.clone();
                    config.daemon = self.section(value, name).unwrap_or_default();
                    self.check_daemon(&config.daemon, &whole);
                }
                "rules" => config.rules = self.rules(value, "rules"),
                "services" => config.services = self.services(value),
                "exceptions" => config.exceptions = self.exceptions(value),
                other => self.error(
                    &key.span(),
                    format!(
                        "unknown key `{other}` (expected source, layout, environments, state, limits, live, clusters, destinations, report, digest, smtp, daemon, rules, services or exceptions)"
                    ),
                ),
            }
        }
        self.validate(&config);
        config
    }

    /// Deserialises one value, reporting its type errors and unknown keys.
    fn section<T: DeserializeOwned>(
        &mut self,
        value: Spanned<DeValue<'a>>,
        path: &str,
    ) -> Option<T> {
        let whole = value.clone();
        let mut unknown: Vec<Vec<String>> = Vec::new();
        let result = serde_ignored::deserialize(ValueDeserializer::from(value), |p| {
            unknown.push(segments(&p));
        });
        for keys in unknown {
            let span = locate(&whole, &keys).unwrap_or_else(|| whole.span());
            self.error(&span, format!("unknown key `{path}.{}`", keys.join(".")));
        }
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| whole.span());
                self.error(&span, format!("in `{path}`: {}", e.message().trim()));
                None
            }
        }
    }

    fn table_entries(
        &mut self,
        value: Spanned<DeValue<'a>>,
        path: &str,
    ) -> Vec<(Spanned<String>, Spanned<DeValue<'a>>)> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(t) => t
                .into_iter()
                .map(|(k, v)| {
                    let ks = k.span();
                    (Spanned::new(ks, k.into_inner().to_string()), v)
                })
                .collect(),
            other => {
                self.error(
                    &span,
                    format!("`{path}` must be a table, found {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }

    fn rules(&mut self, value: Spanned<DeValue<'a>>, path: &str) -> BTreeMap<RuleId, RulePolicy> {
        let mut out = BTreeMap::new();
        for (id, v) in self.table_entries(value, path) {
            let Ok(rule) = id.get_ref().parse::<RuleId>() else {
                self.error(
                    &id.span(),
                    format!(
                        "unknown rule `{}` in `{path}` (see `envparity rules`)",
                        id.get_ref()
                    ),
                );
                continue;
            };
            if let Some(policy) =
                self.section::<RulePolicy>(v.clone(), &format!("{path}.{}", id.get_ref()))
            {
                if let Some(t) = policy.threshold {
                    if rule.default_threshold().is_none() {
                        self.error(&v.span(), format!("rule `{rule}` has no threshold"));
                    } else if !(t.is_finite() && t > 0.0) {
                        self.error(
                            &v.span(),
                            format!("threshold of `{rule}` must be a positive number"),
                        );
                    }
                }
                out.insert(rule, policy);
            }
        }
        out
    }

    fn services(&mut self, value: Spanned<DeValue<'a>>) -> BTreeMap<String, ServiceConfig> {
        let mut out = BTreeMap::new();
        for (name, v) in self.table_entries(value, "services") {
            let path = format!("services.{}", name.get_ref());
            let mut service = ServiceConfig::default();
            // Where `overlays` and `base` are written, to say that `base` needs `overlays`.
            let (mut overlays, mut base) = (None, None);
            for (key, field) in self.table_entries(v, &path) {
                match key.get_ref().as_str() {
                    "rules" => service.rules = self.rules(field, &format!("{path}.rules")),
                    "ignore" => {
                        service.ignore = self
                            .section(field, &format!("{path}.ignore"))
                            .unwrap_or_default();
                    }
                    "overlays" => {
                        overlays = Some(key.span());
                        service.overlays = self.service_overlays(field, &path);
                    }
                    "base" => {
                        base = Some(key.span());
                        service.base = self.repo_dir(field, &format!("{path}.base"));
                    }
                    other => self.error(
                        &key.span(),
                        format!(
                            "unknown key `{path}.{other}` (expected rules, ignore, overlays or base)"
                        ),
                    ),
                }
            }
            if let (Some(span), None) = (&base, &overlays) {
                self.error(
                    span,
                    format!("`{path}.base` needs `{path}.overlays`: the base of a discovered service is found with it"),
                );
            }
            out.insert(name.into_inner(), service);
        }
        out
    }

    /// `services.<name>.overlays`: environment → directory.
    fn service_overlays(
        &mut self,
        value: Spanned<DeValue<'a>>,
        path: &str,
    ) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        let span = value.span();
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            self.error(
                &span,
                format!(
                    "`{path}.overlays` must be a table of environment = directory, e.g. `overlays = {{ dev = \"apps/web/dev\", prod = \"deploy/prod/web\" }}`, found {}",
                    value.get_ref().type_str()
                ),
            );
            return out;
        }
        let entries = self.table_entries(value, &format!("{path}.overlays"));
        if entries.is_empty() {
            self.error(&span, format!("`{path}.overlays` names no environment"));
        }
        for (env, dir) in entries {
            let key = format!("{path}.overlays.{}", env.get_ref());
            if env.get_ref().trim().is_empty() || NOT_AN_ENV.contains(&env.get_ref().as_str()) {
                self.error(
                    &env.span(),
                    format!(
                        "`{}` is not an environment name in `{path}.overlays` (the base is `{path}.base`)",
                        env.get_ref()
                    ),
                );
                continue;
            }
            if let Some(dir) = self.repo_dir(dir, &key) {
                out.insert(env.into_inner(), dir);
            }
        }
        out
    }

    /// A directory inside the repo, as written at `key`: relative, without `..`; `.` and empty
    /// components dropped (`./apps/web/` is `apps/web`, `.` the repo's root).
    fn repo_dir(&mut self, value: Spanned<DeValue<'a>>, key: &str) -> Option<PathBuf> {
        let span = value.span();
        let text: String = self.section(value, key)?;
        let path = Path::new(&text);
        let inside = path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if !inside {
            self.error(
                &span,
                format!(
                    "`{key}` = `{text}` must be a directory inside the repo: relative, without `..`"
                ),
            );
            return None;
        }
        Some(
            path.components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect(),
        )
    }

    fn exceptions(&mut self, value: Spanned<DeValue<'a>>) -> Vec<Exception> {
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            self.error(
                &span,
                "`exceptions` must be an array of tables: use `[[exceptions]]`".into(),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let span = item.span();
            let line = self.line(&span);
            let Some(raw) = self.section::<RawException>(item, &format!("exceptions[{i}]")) else {
                continue;
            };
            let Ok(rule) = raw.rule.parse::<RuleId>() else {
                self.error(&span, format!("exception for unknown rule `{}`", raw.rule));
                continue;
            };
            if raw.reason.trim().is_empty() {
                self.error(&span, "an exception needs a non-empty `reason`".into());
            }
            let expires = raw
                .expires
                .date
                .filter(|_| raw.expires.time.is_none())
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()));
            let Some(expires) = expires else {
                self.error(&span, "`expires` must be a date such as 2027-01-31".into());
                continue;
            };
            out.push(Exception {
                service: raw.service,
                rule,
                container: raw.container,
                field: raw.field,
                reason: raw.reason,
                expires,
                line,
            });
        }
        out
    }

    fn check_environments(&mut self, e: &EnvironmentsConfig, whole: &Spanned<DeValue<'a>>) {
        let at = |key: &str| locate(whole, &[key.to_string()]).unwrap_or_else(|| whole.span());
        let mut seen = std::collections::BTreeSet::new();
        for env in &e.order {
            if !seen.insert(env) {
                self.error(
                    &at("order"),
                    format!("environment `{env}` appears twice in `environments.order`"),
                );
            }
        }
        if !e.order.is_empty() && !e.tiers.is_empty() {
            self.error(
                &at("tiers"),
                "`environments.tiers` and `environments.order` are both set: keep one (tiers give the order too)"
                    .into(),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, tier) in e.tiers.iter().enumerate() {
            if tier.is_empty() {
                self.error(
                    &at("tiers"),
                    format!("tier {} of `environments.tiers` is empty", i + 1),
                );
            }
            for env in tier {
                if !seen.insert(env) {
                    self.error(
                        &at("tiers"),
                        format!("environment `{env}` appears twice in `environments.tiers`"),
                    );
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, words) in e.vocabulary.iter().enumerate() {
            if words.is_empty() {
                self.error(
                    &at("vocabulary"),
                    format!("tier {} of `environments.vocabulary` has no word", i + 1),
                );
            }
            for word in words {
                let lower = word.to_ascii_lowercase();
                if lower.trim().is_empty() {
                    self.error(
                        &at("vocabulary"),
                        "`environments.vocabulary` has an empty word".into(),
                    );
                } else if !seen.insert(lower) {
                    self.error(
                        &at("vocabulary"),
                        format!("word `{word}` appears twice in `environments.vocabulary`"),
                    );
                }
            }
        }
    }

    fn check_digest(&mut self, d: &DigestConfig, span: &Range<usize>) {
        if d.timezone.parse::<chrono_tz::Tz>().is_err() {
            self.error(
                span,
                format!(
                    "`digest.timezone` `{}` is not an IANA time zone name (e.g. `Europe/Berlin`, `UTC`)",
                    d.timezone
                ),
            );
        }
        if !(d.min_widening.is_finite() && d.min_widening >= 1.0) {
            self.error(
                span,
                "`digest.min_widening` must be a number of at least 1".into(),
            );
        }
        if d.schedule.split_whitespace().count() != 5 || scheduler_cron(&d.schedule).is_err() {
            self.error(
                span,
                format!(
                    "`digest.schedule` `{}` must be a 5-field cron expression (minute hour day month weekday)",
                    d.schedule
                ),
            );
        }
        if d.retry_minutes == 0 || d.max_retry_minutes < d.retry_minutes {
            self.error(
                span,
                "`digest.retry_minutes` must be positive and at most `digest.max_retry_minutes`"
                    .into(),
            );
        }
    }

    fn check_daemon(&mut self, d: &DaemonConfig, whole: &Spanned<DeValue<'a>>) {
        let at = |key: &str| locate(whole, &[key.to_string()]).unwrap_or_else(|| whole.span());
        let mut crons = vec![("scan", d.scan.as_str())];
        if !d.report_after_scan() {
            crons.push(("report", d.report.as_str()));
        }
        if let Some(digest) = &d.digest {
            crons.push(("digest", digest.as_str()));
        }
        for (key, expr) in crons {
            if let Err(e) = scheduler_cron(expr) {
                let extra = if key == "report" {
                    " (or `after-scan`)"
                } else {
                    ""
                };
                self.error(&at(key), format!("`daemon.{key}`: {e}{extra}"));
            }
        }
        if let Some(tz) = &d.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            self.error(
                &at("timezone"),
                format!("`daemon.timezone` `{tz}` is not an IANA time zone name (e.g. `Europe/Berlin`, `UTC`)"),
            );
        }
        if d.max_scan_age_minutes == 0 {
            self.error(
                &at("max_scan_age_minutes"),
                "`daemon.max_scan_age_minutes` must be positive".into(),
            );
        }
        if let Some(listen) = &d.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            self.error(
                &at("listen"),
                format!("`daemon.listen` `{listen}` is not an address with a port, e.g. `127.0.0.1:9464`"),
            );
        }
        if d.serve_site && d.listen.is_none() {
            let line = self.line(&at("serve_site"));
            self.push(
                DiagnosticLevel::Warning,
                line,
                "`daemon.serve_site` is set without `daemon.listen`: nothing serves the site"
                    .into(),
            );
        }
        if d.backoff_seconds == 0 || d.max_backoff_seconds < d.backoff_seconds {
            self.error(
                &at("backoff_seconds"),
                "`daemon.backoff_seconds` must be positive and at most `daemon.max_backoff_seconds`".into(),
            );
        }
    }

    fn check_smtp(&mut self, smtp: &SmtpConfig, span: &Range<usize>) {
        let mailbox = |s: &str| s.parse::<lettre::message::Mailbox>().is_ok();
        if smtp.host.trim().is_empty() {
            self.error(span, "`smtp.host` is empty".into());
        }
        if !mailbox(&smtp.from) {
            self.error(
                span,
                format!("`smtp.from` `{}` is not an email address", smtp.from),
            );
        }
        if smtp.to.is_empty() {
            self.error(span, "`smtp.to` needs at least one recipient".into());
        }
        for a in smtp.to.iter().chain(&smtp.cc) {
            if !mailbox(a) {
                self.error(
                    span,
                    format!("`{a}` in `smtp.to`/`smtp.cc` is not an email address"),
                );
            }
        }
        let secret = smtp.password_env.is_some() as u8 + smtp.password_file.is_some() as u8;
        match (&smtp.username, secret) {
            (_, 2) => self.error(
                span,
                "`smtp.password_env` and `smtp.password_file` are both set: keep one".into(),
            ),
            (Some(_), 0) => self.error(
                span,
                "`smtp.username` is set but no password source: add `smtp.password_env` or `smtp.password_file`".into(),
            ),
            (None, 1) => self.error(
                span,
                "a password source is set without `smtp.username`".into(),
            ),
            _ => {}
        }
    }

    fn validate(&mut self, config: &Config) {
        let today = chrono::Local::now().date_naive();
        for e in &config.exceptions {
            if e.expires < today {
                self.push(
                    DiagnosticLevel::Warning,
                    e.line,
                    format!(
                        "exception for `{}` / `{}` expired on {}: its findings are reported again",
                        e.service, e.rule, e.expires
                    ),
                );
            }
        }
    }
}

/// Whether a URL has a password in its user info (`https://user:secret@host/…`).
pub fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    let mut out = match path {
        serde_ignored::Path::Root => return Vec::new(),
        serde_ignored::Path::Seq { parent, .. }
        | serde_ignored::Path::Map { parent, .. }
        | serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => segments(parent),
    };
    match path {
        serde_ignored::Path::Seq { index, .. } => out.push(index.to_string()),
        serde_ignored::Path::Map { key, .. } => out.push(key.clone()),
        _ => {}
    }
    out
}

/// The span of the key at `keys` under `value`.
fn locate(value: &Spanned<DeValue<'_>>, keys: &[String]) -> Option<Range<usize>> {
    let (first, rest) = keys.split_first()?;
    match value.get_ref() {
        DeValue::Table(t) => {
            let (k, v) = t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
            if rest.is_empty() {
                Some(k.span())
            } else {
                locate(v, rest)
            }
        }
        DeValue::Array(a) => {
            let v = a.get(first.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(v.span())
            } else {
                locate(v, rest)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Config, Vec<Diagnostic>), ConfigError> {
        Config::parse(text, Path::new("/x/config.toml"))
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "[source]\npath = \"infra\"\ncolour = 1\n\n[rules.limit-scale]\nthreshold = \"big\"\n\n[rules.no-such-rule]\nseverity = \"warn\"\n\n[[exceptions]]\nservice = \"a\"\nrule = \"image\"\nreason = \"x\"\nexpires = 2020-01-01\nwhy = 2\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        let lines: Vec<(usize, &str)> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(lines[0].0, 3);
        assert!(lines[0].1.contains("source.colour"));
        assert_eq!(lines[1].0, 6);
        assert_eq!(lines[2].0, 8);
        assert!(lines[2].1.contains("no-such-rule"));
        assert_eq!(lines[3].0, 16);
        assert!(lines[3].1.contains("exceptions[0].why"));
    }

    #[test]
    fn expired_exception_is_a_warning() {
        let text = "[[exceptions]]\nservice = \"a\"\nrule = \"image\"\nreason = \"rollout\"\nexpires = 2020-01-01\n";
        let (config, warnings) = parse(text).expect("valid");
        assert_eq!(config.exceptions.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 1);
        assert!(warnings[0].message.contains("expired"));
    }

    #[test]
    fn paths_are_relative_to_the_file() {
        let (config, _) = parse("[source]\npath = \"examples/infra\"\n").expect("valid");
        assert_eq!(config.repo_path(), PathBuf::from("/x/examples/infra"));
    }

    #[test]
    fn severities_and_service_overrides() {
        let text = "[rules.image]\nseverity = \"warn\"\n[services.web.rules.limit-scale]\nseverity = \"off\"\nthreshold = 8\n";
        let (config, _) = parse(text).expect("valid");
        assert_eq!(config.rules[&RuleId::Image].severity, Some(Level::Warn));
        assert_eq!(
            config.services["web"].rules[&RuleId::LimitScale].threshold,
            Some(8.0)
        );
    }

    #[test]
    fn layout_and_order_problems_are_located() {
        let text = "[source]\npath = \".\"\n[layout]\noverlays = [\"apps/{service}\"]\n[environments]\norder = [\"dev\", \"dev\"]\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        let lines: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
        assert_eq!(lines, [4, 6], "{diagnostics:?}");
    }

    #[test]
    fn tiers_and_vocabulary_are_read_and_checked_with_lines() {
        let text = "[environments]\ntiers = [[\"dev\"], [\"staging\"], [\"prod-us\", \"prod-eu\"]]\nvocabulary = [[\"dev\", \"sandbox\"], [\"staging\"], [\"prod\", \"live\"]]\n";
        let (config, _) = parse(text).expect("valid");
        assert_eq!(config.environments.tiers[2], ["prod-us", "prod-eu"]);
        assert_eq!(config.environments.vocabulary[2], ["prod", "live"]);
        let text = "[environments]\norder = [\"dev\", \"prod\"]\nignore = []\ntiers = [[\"dev\"], [], [\"prod\", \"dev\"]]\nvocabulary = [[\"dev\"], [\"Dev\", \"\"], []]\ncolour = 1\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        let lines: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    4,
                    "`environments.tiers` and `environments.order` are both set: keep one (tiers give the order too)"
                ),
                (4, "tier 2 of `environments.tiers` is empty"),
                (4, "environment `dev` appears twice in `environments.tiers`"),
                (5, "word `Dev` appears twice in `environments.vocabulary`"),
                (5, "`environments.vocabulary` has an empty word"),
                (5, "tier 3 of `environments.vocabulary` has no word"),
                (6, "unknown key `environments.colour`"),
            ]
        );
    }

    #[test]
    fn an_exclude_entry_that_is_not_a_glob_is_located() {
        let text = "[layout]\noverlays = [\"apps/{service}/overlays/{env}\"]\nexclude = [\"apps/helm/**\", \"apps/[x\"]\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].line, 3);
        assert!(
            diagnostics[0].message.contains("apps/[x"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn an_include_entry_that_is_not_a_glob_is_located() {
        let text = "[layout]\ninclude = [\"apps/**\"]\nexclude = [\"apps/helm/**\"]\n";
        let (config, _) = parse(text).expect("valid");
        assert_eq!(config.layout.include, ["apps/**"]);
        let text = "[layout]\nexclude = [\"apps/helm/**\"]\n\ninclude = [\"apps/**\", \"clusters/{prod\"]\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].line, 4);
        assert!(
            diagnostics[0]
                .message
                .starts_with("`layout.include` entry `clusters/{prod` is not a glob"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn configured_services_are_read_with_their_directories() {
        let text = "[services.web]\noverlays = { dev = \"./apps/web/dev/\", prod = \"deploy/prod/web\" }\nbase = \"apps/web/base\"\nignore = false\n[services.web.rules.replicas]\nseverity = \"off\"\n[services.root]\noverlays = { prod = \".\" }\n";
        let (config, diagnostics) = parse(text).expect("valid");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let web = &config.services["web"];
        let overlays: Vec<(&str, &Path)> = web
            .overlays
            .iter()
            .map(|(e, d)| (e.as_str(), d.as_path()))
            .collect();
        assert_eq!(
            overlays,
            [
                ("dev", Path::new("apps/web/dev")),
                ("prod", Path::new("deploy/prod/web"))
            ],
            "`.` and trailing slashes dropped"
        );
        assert_eq!(web.base.as_deref(), Some(Path::new("apps/web/base")));
        assert!(web.rules.contains_key(&RuleId::Replicas));
        assert_eq!(config.services["root"].overlays["prod"], PathBuf::new());
    }

    #[test]
    fn configured_service_problems_are_located() {
        let text = "[services.web]\noverlays = { dev = \"apps/web/dev\" }\nbsae = \"apps/web/base\"\n\
                    [services.api]\noverlays = [\"apps/api/dev\"]\n\
                    [services.db]\noverlays = { dev = \"../other/dev\", prod = \"/srv/prod\", base = \"db/base\", qa = 3 }\n\
                    [services.cache]\nbase = \"cache/base\"\n\
                    [services.queue]\noverlays = {}\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        let lines: Vec<(usize, &str)> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert_eq!(lines[0].0, 3);
        assert_eq!(
            lines[0].1,
            "unknown key `services.web.bsae` (expected rules, ignore, overlays or base)"
        );
        assert_eq!(lines[1].0, 5);
        assert!(
            lines[1]
                .1
                .starts_with("`services.api.overlays` must be a table of environment = directory"),
            "{lines:#?}"
        );
        assert!(lines[1].1.ends_with("found array"), "{lines:#?}");
        for (i, needle) in [
            (
                2,
                "`base` is not an environment name in `services.db.overlays`",
            ),
            (
                3,
                "`services.db.overlays.dev` = `../other/dev` must be a directory inside the repo",
            ),
            (
                4,
                "`services.db.overlays.prod` = `/srv/prod` must be a directory inside the repo",
            ),
            (5, "in `services.db.overlays.qa`"),
        ] {
            assert_eq!(lines[i].0, 7, "{lines:#?}");
            assert!(lines[i].1.starts_with(needle), "{lines:#?}");
        }
        assert_eq!(lines[6].0, 9);
        assert!(
            lines[6]
                .1
                .starts_with("`services.cache.base` needs `services.cache.overlays`"),
            "{lines:#?}"
        );
        assert_eq!(
            lines[7],
            (11, "`services.queue.overlays` names no environment")
        );
    }

    #[test]
    fn a_token_in_the_url_is_refused_without_echoing_it() {
        let text =
            "[source]\nbranch = \"main\"\nurl = \"https://bot:s3cr3t@git.example.com/infra.git\"\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        assert_eq!(diagnostics[0].line, 3);
        assert!(!diagnostics[0].message.contains("s3cr3t"));
        assert!(!has_password("git@github.com:acme/infra.git"));
        assert!(!has_password(
            "https://x-access-token@github.com/acme/infra.git"
        ));
    }

    #[test]
    fn a_zero_fetch_timeout_or_cache_lifetime_is_an_error_with_its_line() {
        let text = "[source]\npath = \".\"\ntimeout_seconds = 0\n[state]\nrender_cache_days = 0\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("zero is refused");
        };
        let lines: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (3, "`source.timeout_seconds` must be positive"),
                (5, "`state.render_cache_days` must be positive"),
            ]
        );
    }

    #[test]
    fn max_file_bytes_defaults_to_32_mib_and_zero_is_an_error_with_its_line() {
        let (config, _) = parse("").expect("valid");
        assert_eq!(config.limits.max_file_bytes(), 32 * 1024 * 1024);
        let (config, _) = parse("[limits]\nmax_file_bytes = 4096\n").expect("valid");
        assert_eq!(config.limits.max_file_bytes(), 4096);
        let Err(ConfigError::Invalid { diagnostics, .. }) =
            parse("[limits]\nmax_file_bytes = 134217729\n")
        else {
            panic!("over 128 MiB is refused");
        };
        assert!(
            diagnostics[0].message.contains("at most 134217728"),
            "{diagnostics:?}"
        );
        assert_eq!(diagnostics[0].line, 2);
        let (config, _) = parse("[limits]\nmax_file_bytes = 134217728\n").expect("valid");
        assert_eq!(config.limits.max_file_bytes(), 128 * 1024 * 1024);
        let text = "[source]\npath = \".\"\n\n[limits]\nmax_file_bytes = 0\nmax_depth = 3\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("zero is refused");
        };
        let lines: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (5, "`limits.max_file_bytes` must be positive"),
                (6, "unknown key `limits.max_depth`"),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_config_file_that_is_a_device_or_leaves_its_directory_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zero = dir.path().join("config.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let err = Config::load(&zero).expect_err("a device");
        assert_eq!(
            err.to_string(),
            format!("{} is a device, not a regular file", zero.display())
        );
        let elsewhere = tempfile::tempdir().expect("tempdir");
        std::fs::write(elsewhere.path().join("real.toml"), "").expect("write");
        let link = dir.path().join("linked.toml");
        std::os::unix::fs::symlink(elsewhere.path().join("real.toml"), &link).expect("symlink");
        assert!(
            matches!(
                Config::load(&link),
                Err(ConfigError::Read {
                    source: crate::input::ReadError::OutsideRoot { .. },
                    ..
                })
            ),
            "a config file's links stay in its directory"
        );
    }

    #[test]
    fn daemon_schedules_default_convert_and_are_checked_with_lines() {
        let (config, _) = parse("").expect("valid");
        assert_eq!(config.daemon.scan, "*/15 * * * *");
        assert!(config.daemon.report_after_scan());
        assert_eq!(config.daemon.digest_schedule(&config.digest), "0 8 * * 1");
        assert_eq!(
            scheduler_cron("*/15 * * * *").expect("ok"),
            "0 */15 * * * *"
        );
        assert_eq!(
            scheduler_cron("*/2 * * * * *").expect("ok"),
            "*/2 * * * * *"
        );
        let (config, _) = parse("[daemon]\nscan = \"0 * * * *\"\nreport = \"30 6 * * *\"\ntimezone = \"Europe/Berlin\"\nlog_format = \"json\"\n").expect("valid");
        assert!(!config.daemon.report_after_scan());
        assert_eq!(config.daemon.log_format, LogFormat::Json);
        assert_eq!(config.daemon.tz(&config.digest), chrono_tz::Europe::Berlin);
        let text = "[daemon]\nscan = \"61 * * * *\"\nreport = \"sometimes\"\ndigest = \"1 2 3\"\ntimezone = \"Mars/Olympus\"\nlisten = \"localhost\"\ncolour = 1\n";
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse(text) else {
            panic!("expected errors");
        };
        let lines: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7], "{diagnostics:#?}");
        assert!(diagnostics[1].message.contains("after-scan"));
        assert!(diagnostics[5].message.contains("daemon.colour"));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let Err(ConfigError::Invalid { diagnostics, .. }) = parse("[source]\npath = \n") else {
            panic!("expected errors");
        };
        assert_eq!(diagnostics[0].line, 2, "{diagnostics:?}");
    }
}
