//! The static report site: rendered from the history store alone (askama templates in `templates/`,
//! plotters charts), written to a temporary directory and swapped in atomically.
//!
//! The site is a pure function of the history: "now" is the time of the newest run, never the clock, so the
//! same history gives byte-identical files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Prices;
use crate::history::{History, HistoryError};

pub mod charts;
mod data;
mod pages;
mod publish;
pub mod service_charts;

pub use data::{Drift, drifting, slug, sort_drifts};
pub use publish::{AFTER_STAGED_FILE, CRASH_BEFORE_SWAP, MARKER};

/// Why the site could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A template failed to render.
    #[error("rendering {page}: {source}")]
    Template {
        /// The page.
        page: String,
        /// askama's error.
        source: askama::Error,
    },
    /// A chart failed to draw.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The output directory holds something that is not an envparity site: publishing would delete it.
    #[error(
        "refusing to publish the report into {}: {why}; choose another --out (or empty it)",
        out.display()
    )]
    NotASite {
        /// The output directory.
        out: PathBuf,
        /// What it holds.
        why: &'static str,
    },
    /// The output directory is or contains the state directory, or is one of envparity's own entries in
    /// it: publishing would delete the history, the mirrors or the cache.
    #[error(
        "refusing to publish the report into {}: it overlaps the state directory {} (a directory of its own inside it is fine)",
        out.display(),
        state.display()
    )]
    OverlapsState {
        /// The output directory.
        out: PathBuf,
        /// The state directory.
        state: PathBuf,
    },
    /// A worker thread panicked (a bug): the site is not published half-drawn.
    #[error("{what} panicked; the previous site is left in place")]
    Panicked {
        /// What the thread was doing.
        what: &'static str,
    },
    /// Serialising the JSON data failed.
    #[error("serialising {what}: {source}")]
    Json {
        /// What.
        what: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

/// Report settings (from config).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Prices for the cost view.
    pub prices: Option<Prices>,
}

/// Where rendered files go: memory ([`Site`]) or a staging directory on disk.
pub trait Sink {
    /// Stores one file (path relative to the site root).
    fn put(&mut self, path: String, bytes: Vec<u8>) -> Result<(), ReportError>;
}

/// The rendered site in memory: path relative to the site root → bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// Every file.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Sink for Site {
    fn put(&mut self, path: String, bytes: Vec<u8>) -> Result<(), ReportError> {
        self.files.insert(path, bytes);
        Ok(())
    }
}

/// Records the names of what passes through to another sink, so the site can end with its [`MARKER`].
struct Listing<'a, S: Sink> {
    inner: &'a mut S,
    files: std::collections::BTreeSet<String>,
}

impl<S: Sink> Sink for Listing<'_, S> {
    fn put(&mut self, path: String, bytes: Vec<u8>) -> Result<(), ReportError> {
        self.files.insert(path.clone());
        self.inner.put(path, bytes)
    }
}

/// Renders every page into `sink`, then the [`MARKER`] listing them; returns the number of files.
fn render_into<S: Sink>(
    history: &History,
    data: &data::SiteData,
    sink: &mut S,
) -> Result<usize, ReportError> {
    let mut listing = Listing {
        inner: sink,
        files: Default::default(),
    };
    pages::render(history, data, &mut listing)?;
    let marker = publish::marker(listing.files.iter().map(String::as_str));
    listing.put(MARKER.to_string(), marker)?;
    Ok(listing.files.len())
}

/// Renders the whole site from `history` into memory.
#[tracing::instrument(skip_all)]
pub fn render(history: &History, options: &Options) -> Result<Site, ReportError> {
    let data = data::SiteData::load(history, options)?;
    let mut site = Site::default();
    render_into(history, &data, &mut site)?;
    Ok(site)
}

/// Renders the site straight into a staging directory next to `out` and swaps it in atomically; returns
/// the number of files.
///
/// Refuses (and deletes nothing) when `out` is or contains `state_dir` or one of its entries, or is a
/// non-empty directory that holds no envparity site; files in `out` that envparity did not write are kept.
#[tracing::instrument(skip_all, fields(out = %out.display()))]
pub fn build(
    history: &History,
    options: &Options,
    out: &Path,
    state_dir: &Path,
) -> Result<usize, ReportError> {
    let data = data::SiteData::load(history, options)?;
    let mut staging = publish::Staging::new(out, state_dir)?;
    let files = render_into(history, &data, &mut staging)?;
    staging.commit()?;
    Ok(files)
}
