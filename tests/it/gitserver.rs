//! Real git servers on 127.0.0.1 for the source tests: `git daemon` (git://) and `git http-backend` behind a
//! small Python server with HTTP basic auth (smart HTTP). Plus [`WorkRepo`], a repository built commit by
//! commit with the `git` CLI, with controlled authors and dates.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;

use crate::support::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `git` with `args` in `dir` with a clean config (no user or system config leaks in); panics on failure.
/// Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed in {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the server exited before listening on port {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 15 s");
}

/// `git daemon` serving every repository under a temporary base directory; killed on drop.
pub struct GitServer {
    base: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl GitServer {
    /// Starts the daemon on a free port and waits until it accepts connections.
    pub fn start() -> GitServer {
        let base = tempfile::tempdir().expect("tempdir");
        let mut server = GitServer {
            base,
            port: 0,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let port = free_port();
        let base = self.base.path().display().to_string();
        // The daemon binary itself: `git daemon` would run it as a child that outlives a killed `git`.
        let mut child = Command::new(exec_path().join("git-daemon"))
            .args([
                "--export-all",
                &format!("--base-path={base}"),
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--reuseaddr",
                "--informative-errors",
                &base,
            ])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        wait_for_port(port, &mut child);
        self.port = port;
        self.child = Some(child);
    }

    /// The directory the daemon serves.
    pub fn base(&self) -> &Path {
        self.base.path()
    }

    /// The git:// URL of the repository `name` under the base directory.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// A new work repository `name`, served by the daemon.
    pub fn repo(&self, name: &str) -> WorkRepo {
        WorkRepo::init(&self.base().join(name))
    }

    /// Kills the daemon (the repositories stay).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `tests/support/git_http_server.py`: `git http-backend` as CGI, requiring basic auth with one user and
/// token; killed on drop.
pub struct HttpGitServer {
    base: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl HttpGitServer {
    /// Starts the server for a new temporary base directory, accepting only `user`:`token`.
    pub fn start(user: &str, token: &str) -> HttpGitServer {
        let base = tempfile::tempdir().expect("tempdir");
        let script = crate::support::root().join("tests/support/git_http_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--root", &base.path().display().to_string()])
            .args(["--user", user, "--token", token])
            .args(["--backend", &http_backend().display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 git_http_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the server printed {line:?}, not a port"));
        wait_for_port(port, &mut child);
        HttpGitServer { base, port, child }
    }

    /// The directory served.
    pub fn base(&self) -> &Path {
        self.base.path()
    }

    /// The http:// URL of the repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// A new work repository `name`, served by the server.
    pub fn repo(&self, name: &str) -> WorkRepo {
        WorkRepo::init(&self.base().join(name))
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the `git` on PATH keeps its helper programs.
fn exec_path() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The git-http-backend of the `git` on PATH, else Debian's.
fn http_backend() -> PathBuf {
    let own = exec_path().join("git-http-backend");
    if own.exists() {
        own
    } else {
        PathBuf::from("/usr/lib/git-core/git-http-backend")
    }
}

/// 2024-01-01T00:00:00Z: the first commit's time; every commit is one hour after the previous one.
pub const EPOCH: i64 = 1_704_067_200;

/// A (non-bare) repository built commit by commit with the `git` CLI, on branch `main`.
pub struct WorkRepo {
    /// Its work tree.
    pub dir: PathBuf,
    clock: std::cell::Cell<i64>,
}

impl WorkRepo {
    /// `git init -b main` in `dir`.
    pub fn init(dir: &Path) -> WorkRepo {
        std::fs::create_dir_all(dir).expect("mkdir");
        let repo = WorkRepo {
            dir: dir.to_path_buf(),
            clock: std::cell::Cell::new(EPOCH),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// Runs `git` in the work tree (as the test author, at the current clock).
    pub fn git(&self, args: &[&str]) -> String {
        let date = format!("@{} +0000", self.clock.get());
        git(
            &self.dir,
            args,
            &[
                ("GIT_AUTHOR_NAME", "Ada Lovelace".into()),
                ("GIT_AUTHOR_EMAIL", "ada@example.org".into()),
                ("GIT_COMMITTER_NAME", "Ci Bot".into()),
                ("GIT_COMMITTER_EMAIL", "ci@example.org".into()),
                ("GIT_AUTHOR_DATE", date.clone()),
                ("GIT_COMMITTER_DATE", date),
            ],
        )
    }

    /// Writes a file (creating directories).
    pub fn write(&self, path: &str, content: &str) -> &WorkRepo {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
        self
    }

    /// Removes a file or directory.
    pub fn remove(&self, path: &str) -> &WorkRepo {
        self.git(&["rm", "-r", "-q", path]);
        self
    }

    /// Stages everything and commits; returns the commit id. The commit time is the clock's, which then
    /// moves one hour on.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.clock.set(self.clock.get() + 3600);
        self.head()
    }

    /// Like [`WorkRepo::commit`], with another author.
    pub fn commit_as(&self, message: &str, name: &str, email: &str) -> String {
        self.git(&["add", "-A"]);
        let date = format!("@{} +0000", self.clock.get());
        git(
            &self.dir,
            &["commit", "-q", "--allow-empty", "-m", message],
            &[
                ("GIT_AUTHOR_NAME", name.into()),
                ("GIT_AUTHOR_EMAIL", email.into()),
                ("GIT_COMMITTER_NAME", "Ci Bot".into()),
                ("GIT_COMMITTER_EMAIL", "ci@example.org".into()),
                ("GIT_AUTHOR_DATE", date.clone()),
                ("GIT_COMMITTER_DATE", date),
            ],
        );
        self.clock.set(self.clock.get() + 3600);
        self.head()
    }

    /// Commit time the next commit will get.
    pub fn next_time(&self) -> i64 {
        self.clock.get()
    }

    /// The id of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The id of `rev`.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev])
    }
}
