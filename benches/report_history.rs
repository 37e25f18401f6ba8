//! Generates the history database behind the report benchmark (`benches/report.sh`): N services × 3
//! environments (dev, staging, production) × D daily scan runs, written with [`History::record`] exactly as
//! `envparity scan` writes them.
//!
//! Run with `REPORT_BENCH_DB=/tmp/x/history.sqlite cargo bench --bench report_history`. Environment:
//!
//! - `REPORT_BENCH_DB`: the database to write (default `target/report-bench/history.sqlite`); an existing
//!   file is replaced, unless `REPORT_BENCH_REUSE=1`, which keeps it and skips generation.
//! - `REPORT_BENCH_SERVICES` (default 500), `REPORT_BENCH_DAYS` (default 365), `REPORT_BENCH_SEED` (42).
//!
//! Each run is one `scan` on day `d` (06:00 UTC from 2025-01-01) of a commit with an author. Per service, one
//! Deployment with one container: cpu and memory limits and requests per environment, replicas per
//! environment, and the dev and staging limits ÷ production's (`limit-ratio`). Values change in
//! deterministic pseudo-random steps every two to six weeks; a fifth of the services get a staging memory cut
//! at some day (a few of them in the last week, so the "widened this week" list is not empty), which makes
//! their ratios drift. Findings are derived from the values (`limit-inversion`, `limit-scale`,
//! `request-limit-ratio`, `replicas`) plus image-tag lags during releases (`image`), with fingerprints that are
//! stable across days, so episodes open and close over the year. Every run carries a `ServiceView` per service
//! (the store keeps only the newest). Everything derives from the seed: no clock, no OS randomness.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use envparity::codes::RuleId;
use envparity::finding::{Finding, Severity, fingerprint};
use envparity::history::{CommitRef, Durations, History, RunKind, RunRecord};
use envparity::metrics::{Metric, MetricKind};
use envparity::view::{
    ContainerEnv, ContainerView, EnvName, IngressView, ServiceView, WorkloadView,
};
use indexmap::IndexMap;

const ENVS: [&str; 3] = ["dev", "staging", "production"];
const DEV: usize = 0;
const STAGING: usize = 1;
const PROD: usize = 2;
const CONTAINER: &str = "app";
const MIB: f64 = 1024.0 * 1024.0;

const AUTHORS: [&str; 8] = [
    "Ada Byron <ada@example.com>",
    "Grace Hopper <grace@example.com>",
    "Linus Torvalds <linus@example.com>",
    "Barbara Liskov <barbara@example.com>",
    "Ken Thompson <ken@example.com>",
    "Margaret Hamilton <margaret@example.com>",
    "Dennis Ritchie <dennis@example.com>",
    "Frances Allen <frances@example.com>",
];

const WORDS: [&str; 12] = [
    "billing",
    "catalog",
    "checkout",
    "inventory",
    "search",
    "payments",
    "auth",
    "profile",
    "notify",
    "orders",
    "shipping",
    "pricing",
];

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// One service's state on the current day; mutated in steps.
struct Service {
    name: String,
    rng: Rng,
    /// Limits per env: cpu in millicores, memory in MiB.
    cpu_limit: [u64; 3],
    mem_limit: [u64; 3],
    /// Request as a percentage of the limit, per env: cpu, memory.
    cpu_req_pct: [u64; 3],
    mem_req_pct: [u64; 3],
    replicas: [i64; 3],
    /// Image version per env (releases roll dev → staging → production over a few days).
    version: [u64; 3],
    /// Whether the service releases during the year (image lags give `image` findings).
    releases: bool,
    /// Pending promotions: (day, env, version).
    promotions: Vec<(i64, usize, u64)>,
    next_change: i64,
    next_release: i64,
    /// The day of the staging memory cut, if this service gets one.
    staging_cut: Option<i64>,
}

impl Service {
    fn new(index: usize, days: i64, seed: u64) -> Service {
        let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let name = format!("{}-{index:03}", WORDS[index % WORDS.len()]);
        let prod_cpu = rng.pick(&[250, 500, 1000, 2000, 4000]);
        let prod_mem = rng.pick(&[256, 512, 1024, 2048, 4096]);
        // dev and staging start at a fraction of production (sometimes equal).
        let frac = |rng: &mut Rng, v: u64, fracs: &[u64]| (v * rng.pick(fracs) / 100).max(50);
        let cpu_limit = [
            frac(&mut rng, prod_cpu, &[25, 50, 50, 100, 100]),
            frac(&mut rng, prod_cpu, &[50, 100, 100]),
            prod_cpu,
        ];
        let mem_limit = [
            frac(&mut rng, prod_mem, &[25, 50, 50, 100]),
            frac(&mut rng, prod_mem, &[50, 100, 100]),
            prod_mem,
        ];
        // Requests are usually the same fraction of the limit everywhere; sometimes dev differs.
        let pct = |rng: &mut Rng| {
            let p = rng.pick(&[25, 50, 50, 75, 100]);
            let dev = if rng.chance(0.2) {
                rng.pick(&[10, 25, 100])
            } else {
                p
            };
            [dev, p, p]
        };
        let cpu_req_pct = pct(&mut rng);
        let mem_req_pct = pct(&mut rng);
        let prod_replicas = rng.pick(&[2, 3, 3, 4, 6]);
        let replicas = [1, rng.pick(&[1, 2, prod_replicas]), prod_replicas];
        let releases = rng.chance(0.15);
        let staging_cut = if index % 50 == 7 && days > 3 {
            // A few cuts in the last week: the index page's "widened this week" is never empty.
            Some(days - 1 - rng.range(0, 3) as i64)
        } else if rng.chance(0.2) {
            Some(rng.range(0, days.max(1) as u64) as i64)
        } else {
            None
        };
        let next_change = rng.range(1, 43) as i64;
        let next_release = rng.range(1, 30) as i64;
        Service {
            name,
            rng,
            cpu_limit,
            mem_limit,
            cpu_req_pct,
            mem_req_pct,
            replicas,
            version: [1, 1, 1],
            releases,
            promotions: Vec::new(),
            next_change,
            next_release,
            staging_cut,
        }
    }

    /// Moves the service to day `day`.
    fn advance(&mut self, day: i64) {
        if day >= self.next_change {
            self.step();
            self.next_change = day + self.rng.range(14, 43) as i64;
        }
        if self.staging_cut == Some(day) {
            self.mem_limit[STAGING] = (self.mem_limit[STAGING] / 2).max(64);
        }
        if self.releases && day >= self.next_release {
            let v = self.version[DEV] + 1;
            self.version[DEV] = v;
            let to_staging = day + self.rng.range(1, 4) as i64;
            let to_prod = to_staging + self.rng.range(1, 8) as i64;
            self.promotions.push((to_staging, STAGING, v));
            self.promotions.push((to_prod, PROD, v));
            self.next_release = day + self.rng.range(14, 29) as i64;
        }
        let version = &mut self.version;
        self.promotions.retain(|&(when, env, v)| {
            if when <= day {
                version[env] = version[env].max(v);
                false
            } else {
                true
            }
        });
    }

    /// One step change: a resize of production (staging follows half the time), of one lower environment,
    /// a request change or a replica change.
    fn step(&mut self) {
        let scale = |v: u64, pct: u64| (v * pct / 100).clamp(50, 64_000);
        match self.rng.range(0, 6) {
            0 | 1 => {
                let pct = self.rng.pick(&[50, 150, 200]);
                // Staging usually follows a cut (else it would exceed production), less often a raise.
                let follow = self.rng.chance(if pct < 100 { 0.8 } else { 0.5 });
                let limits = if self.rng.chance(0.5) {
                    &mut self.cpu_limit
                } else {
                    &mut self.mem_limit
                };
                let follow_dev = self.rng.chance(0.6);
                limits[PROD] = scale(limits[PROD], pct);
                if follow {
                    limits[STAGING] = scale(limits[STAGING], pct);
                }
                if follow_dev {
                    limits[DEV] = scale(limits[DEV], pct);
                }
            }
            2 => {
                // A lower environment resized on its own, or brought back to half / all of production.
                let env = self.rng.pick(&[DEV, STAGING]);
                let resize = self.rng.chance(0.5);
                let pct = self.rng.pick(&[50, 200]);
                let back = if env == DEV { 50 } else { 100 };
                let limits = if self.rng.chance(0.5) {
                    &mut self.cpu_limit
                } else {
                    &mut self.mem_limit
                };
                limits[env] = if resize {
                    scale(limits[env], pct)
                } else {
                    scale(limits[PROD], back)
                };
            }
            3 | 4 => {
                // A request change in one environment or all, or the others catching up with one.
                let pct = if self.rng.chance(0.5) {
                    &mut self.cpu_req_pct
                } else {
                    &mut self.mem_req_pct
                };
                let new = self.rng.pick(&[10, 25, 50, 75, 100]);
                if pct[DEV] == pct[STAGING] && pct[STAGING] == pct[PROD] {
                    if self.rng.chance(0.5) {
                        let env = self.rng.range(0, 3) as usize;
                        pct[env] = new;
                    } else {
                        *pct = [new; 3];
                    }
                } else {
                    let env = self.rng.range(0, 3) as usize;
                    *pct = [pct[env]; 3];
                }
            }
            _ => {
                let prod = self.rng.pick(&[2, 3, 4, 6, 8]);
                self.replicas[PROD] = prod;
                if self.rng.chance(0.5) {
                    self.replicas[STAGING] = prod;
                }
            }
        }
    }

    fn workload(&self) -> String {
        format!("Deployment/{}", self.name)
    }

    fn metrics(&self, out: &mut Vec<Metric>) {
        let workload = self.workload();
        let mut push = |env: usize, other: Option<usize>, resource: &str, kind, value: f64| {
            out.push(Metric {
                service: self.name.clone(),
                env: ENVS[env].to_string(),
                other_env: other.map(|o| ENVS[o].to_string()),
                workload: workload.clone(),
                container: (kind != MetricKind::Replicas).then(|| CONTAINER.to_string()),
                resource: resource.to_string(),
                kind,
                value,
            });
        };
        for env in 0..3 {
            let cpu = self.cpu_limit[env] as f64 / 1000.0;
            let mem = self.mem_limit[env] as f64 * MIB;
            push(env, None, "cpu", MetricKind::Limit, cpu);
            push(env, None, "memory", MetricKind::Limit, mem);
            let cpu_req = cpu * self.cpu_req_pct[env] as f64 / 100.0;
            let mem_req = mem * self.mem_req_pct[env] as f64 / 100.0;
            push(env, None, "cpu", MetricKind::Request, cpu_req);
            push(env, None, "memory", MetricKind::Request, mem_req);
        }
        for env in [DEV, STAGING] {
            let cpu = self.cpu_limit[env] as f64 / self.cpu_limit[PROD] as f64;
            let mem = self.mem_limit[env] as f64 / self.mem_limit[PROD] as f64;
            push(env, Some(PROD), "cpu", MetricKind::LimitRatio, cpu);
            push(env, Some(PROD), "memory", MetricKind::LimitRatio, mem);
        }
        for env in 0..3 {
            push(
                env,
                None,
                "replicas",
                MetricKind::Replicas,
                self.replicas[env] as f64,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        rule: RuleId,
        severity: Severity,
        container: bool,
        field: &str,
        envs: &[usize],
        values: IndexMap<String, String>,
        message: String,
    ) -> Finding {
        let container = container.then(|| CONTAINER.to_string());
        Finding {
            rule,
            severity,
            service: self.name.clone(),
            kind: "Deployment".into(),
            name: self.name.clone(),
            envs: envs.iter().map(|e| ENVS[*e].to_string()).collect(),
            field: field.into(),
            values,
            message,
            fingerprint: fingerprint(
                rule.as_str(),
                &self.name,
                "Deployment",
                &self.name,
                container.as_deref(),
                field,
            ),
            container,
            files: envs
                .iter()
                .map(|e| {
                    (
                        ENVS[*e].to_string(),
                        format!("apps/{}/overlays/{}/patch.yaml", self.name, ENVS[*e]),
                    )
                })
                .collect(),
        }
    }

    /// The findings the rules would report for today's values.
    fn findings(&self, out: &mut Vec<Finding>) {
        let per_env = |f: &dyn Fn(usize) -> String| -> IndexMap<String, String> {
            (0..3).map(|e| (ENVS[e].to_string(), f(e))).collect()
        };
        for (resource, limits, show) in [
            ("cpu", &self.cpu_limit, cpu as fn(u64) -> String),
            ("memory", &self.mem_limit, mem as fn(u64) -> String),
        ] {
            let field = format!("resources.limits.{resource}");
            if limits[STAGING] > limits[PROD] {
                out.push(self.finding(
                    RuleId::LimitInversion,
                    Severity::Block,
                    true,
                    &field,
                    &[STAGING, PROD],
                    per_env(&|e| show(limits[e])),
                    format!(
                        "{resource} limit decreases along the promotion order: staging {} > production {}",
                        show(limits[STAGING]),
                        show(limits[PROD])
                    ),
                ));
            }
            let (min, max) = (
                (0..3).min_by_key(|e| limits[*e]).unwrap_or(DEV),
                (0..3).max_by_key(|e| limits[*e]).unwrap_or(PROD),
            );
            if limits[max] > 4 * limits[min] {
                let mut envs = [min, max];
                envs.sort_unstable();
                out.push(self.finding(
                    RuleId::LimitScale,
                    Severity::Warn,
                    true,
                    &field,
                    &envs,
                    per_env(&|e| show(limits[e])),
                    format!(
                        "{resource} limit is {} in {} but {} in {}: {:.1}× apart (more than 4×)",
                        show(limits[max]),
                        ENVS[max],
                        show(limits[min]),
                        ENVS[min],
                        limits[max] as f64 / limits[min] as f64
                    ),
                ));
            }
        }
        for (resource, pct) in [("cpu", &self.cpu_req_pct), ("memory", &self.mem_req_pct)] {
            let (lo, hi) = (
                (0..3).min_by_key(|e| pct[*e]).unwrap_or(DEV),
                (0..3).max_by_key(|e| pct[*e]).unwrap_or(PROD),
            );
            if pct[hi] >= 2 * pct[lo] && pct[hi] - pct[lo] >= 25 {
                let mut envs = [lo, hi];
                envs.sort_unstable();
                out.push(self.finding(
                    RuleId::RequestLimitRatio,
                    Severity::Warn,
                    true,
                    &format!("resources.requests.{resource}/resources.limits.{resource}"),
                    &envs,
                    per_env(&|e| format!("{:.2}", pct[e] as f64 / 100.0)),
                    format!(
                        "{resource} request ÷ limit is {:.2} in {} but {:.2} in {}",
                        pct[hi] as f64 / 100.0,
                        ENVS[hi],
                        pct[lo] as f64 / 100.0,
                        ENVS[lo]
                    ),
                ));
            }
        }
        if self.replicas[STAGING] != self.replicas[PROD] {
            let values = per_env(&|e| self.replicas[e].to_string());
            let shown: Vec<String> = values.iter().map(|(e, v)| format!("{e} {v}")).collect();
            out.push(self.finding(
                RuleId::Replicas,
                Severity::Info,
                false,
                "spec.replicas",
                &[DEV, STAGING, PROD],
                values,
                format!("replicas differs: {}", shown.join(", ")),
            ));
        }
        if self.version[STAGING] != self.version[PROD] {
            out.push(self.finding(
                RuleId::Image,
                Severity::Block,
                true,
                "image",
                &[STAGING, PROD],
                per_env(&|e| self.image(e)),
                format!(
                    "image differs: staging runs {} but production {}",
                    self.image(STAGING),
                    self.image(PROD)
                ),
            ));
        }
    }

    fn image(&self, env: usize) -> String {
        format!(
            "registry.example.com/{}:1.{}.0",
            self.name, self.version[env]
        )
    }

    fn view(&self) -> ServiceView {
        let per_env = (0..3)
            .map(|e| {
                let req = |limit: u64, pct: u64| limit * pct / 100;
                let env = ContainerEnv {
                    image: Some(self.image(e)),
                    requests: BTreeMap::from([
                        (
                            "cpu".to_string(),
                            cpu(req(self.cpu_limit[e], self.cpu_req_pct[e])),
                        ),
                        (
                            "memory".to_string(),
                            mem(req(self.mem_limit[e], self.mem_req_pct[e])),
                        ),
                    ]),
                    limits: BTreeMap::from([
                        ("cpu".to_string(), cpu(self.cpu_limit[e])),
                        ("memory".to_string(), mem(self.mem_limit[e])),
                    ]),
                    ratios: BTreeMap::from([
                        (
                            "cpu".to_string(),
                            format!("{:.2}", self.cpu_req_pct[e] as f64 / 100.0),
                        ),
                        (
                            "memory".to_string(),
                            format!("{:.2}", self.mem_req_pct[e] as f64 / 100.0),
                        ),
                    ]),
                    probes: BTreeMap::from([
                        (
                            "livenessProbe".to_string(),
                            "GET /healthz :8080 · delay 10s · every 10s · timeout 1s · 3 failures"
                                .to_string(),
                        ),
                        (
                            "readinessProbe".to_string(),
                            "GET /ready :8080 · delay 5s · every 5s · timeout 1s · 3 failures"
                                .to_string(),
                        ),
                    ]),
                };
                (ENVS[e].to_string(), env)
            })
            .collect();
        let all: Vec<String> = ENVS.iter().map(|e| e.to_string()).collect();
        let env_names = ["LOG_LEVEL", "PORT", "DATABASE_URL", "FEATURE_FLAGS"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                // FEATURE_FLAGS only in dev and staging.
                let present: Vec<String> = if i == 3 {
                    all[..2].to_vec()
                } else {
                    all.clone()
                };
                EnvName {
                    name: name.to_string(),
                    partial: present.len() < all.len(),
                    present,
                }
            })
            .collect();
        ServiceView {
            service: self.name.clone(),
            envs: all.clone(),
            workloads: vec![WorkloadView {
                workload: self.workload(),
                replicas: (0..3)
                    .map(|e| (ENVS[e].to_string(), Some(self.replicas[e])))
                    .collect(),
                containers: vec![ContainerView {
                    name: CONTAINER.into(),
                    init: false,
                    per_env,
                    env_names,
                }],
            }],
            ingresses: vec![IngressView {
                name: self.name.clone(),
                routes: all
                    .iter()
                    .map(|e| {
                        (
                            e.clone(),
                            vec![format!("/{} (Prefix) → {}:80", self.name, self.name)],
                        )
                    })
                    .collect(),
            }],
        }
    }
}

fn cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

fn mem(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{}Gi", mib / 1024)
    } else {
        format!("{mib}Mi")
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {}: {e}", PathBuf::from(p).display()),
        }
    }
}

fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("counting {table}: {e}"))
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); this generator takes its settings from the environment.
    let db = std::env::var_os("REPORT_BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/report-bench/history.sqlite"));
    let services: usize = env_or("REPORT_BENCH_SERVICES", 500);
    let days: i64 = env_or("REPORT_BENCH_DAYS", 365);
    let seed: u64 = env_or("REPORT_BENCH_SEED", 42);
    assert!(
        services > 0 && days > 0,
        "REPORT_BENCH_SERVICES and REPORT_BENCH_DAYS must be positive"
    );

    if db.exists() && std::env::var("REPORT_BENCH_REUSE").as_deref() == Ok("1") {
        eprintln!(
            "report_history: REPORT_BENCH_REUSE=1 and {} exists: generation skipped",
            db.display()
        );
    } else {
        remove_db(&db);
        generate(&db, services, days, seed);
    }

    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("opening {} read-only: {e}", db.display()));
    let size = std::fs::metadata(&db)
        .map(|m| m.len())
        .unwrap_or_else(|e| panic!("stat {}: {e}", db.display()));
    println!("report_history: {}", db.display());
    println!("  size            {:>10.1} MiB", size as f64 / MIB);
    for table in [
        "runs",
        "observations",
        "episodes",
        "metrics",
        "events",
        "service_views",
    ] {
        println!("  {table:<15} {:>10}", count(&conn, table));
    }
    let open: i64 = conn
        .query_row(
            "SELECT count(*) FROM episodes WHERE resolved_run IS NULL",
            [],
            |r| r.get(0),
        )
        .expect("counting open episodes");
    println!("  open episodes   {open:>10}");
}

fn generate(db: &Path, services: usize, days: i64, seed: u64) {
    let started = Instant::now();
    let mut history = History::open(db).unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
    let mut all: Vec<Service> = (0..services).map(|i| Service::new(i, days, seed)).collect();
    let mut rng = Rng(seed ^ 0xdead_beef);
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 6, 0, 0)
        .single()
        .expect("valid start date");
    let mut last_report = Instant::now();
    for day in 0..days {
        let time: DateTime<Utc> = start + Duration::days(day);
        for s in &mut all {
            s.advance(day);
        }
        let mut metrics = Vec::with_capacity(services * 19);
        let mut findings = Vec::new();
        for s in &all {
            s.metrics(&mut metrics);
            s.findings(&mut findings);
        }
        // As the engine hands them over: worst first.
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        let author = AUTHORS[(rng.next() % AUTHORS.len() as u64) as usize];
        let commit = CommitRef {
            id: format!(
                "{:016x}{:016x}{:08x}",
                rng.next(),
                rng.next(),
                rng.next() as u32
            ),
            time: time - Duration::minutes(rng.range(10, 600) as i64),
            author: author.to_string(),
            summary: format!("day {day}: tune resources and roll out releases"),
        };
        let render_ms = rng.range(20_000, 60_000);
        let run = RunRecord {
            kind: RunKind::Scan,
            started_at: time,
            time,
            commit: Some(commit),
            durations: Durations {
                total_ms: render_ms + 4_000,
                fetch_ms: Some(1_500),
                render_ms: Some(render_ms),
                check_ms: Some(2_500),
            },
            fetch_error: None,
            errors: Vec::new(),
            findings,
            metrics,
            events: Vec::new(),
            views: all.iter().map(Service::view).collect(),
        };
        history
            .record(&run)
            .unwrap_or_else(|e| panic!("recording day {day}: {e}"));
        if last_report.elapsed().as_secs() >= 10 {
            eprintln!(
                "report_history: day {}/{days} ({:.0} s)",
                day + 1,
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    drop(history);
    println!(
        "report_history: generated {services} services x {} envs x {days} days (seed {seed}) in {:.1} s",
        ENVS.len(),
        started.elapsed().as_secs_f64()
    );
}
