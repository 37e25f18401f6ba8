//! The repository's own GitOps objects (DESIGN.md, "Environments and services: the deployment map", point 2).
//! So far: Flux's post-build variable substitution ([`substitute`]), the Go `path.Match` semantics that
//! Flux and Argo CD both rely on, whether a repository URL names this repository ([`RepoIdentity`]), and
//! the two template syntaxes of Argo CD ApplicationSets.
//!
//! A leaf: nothing here knows about discovery, rendering or output.

mod envsubst;
mod pathmatch;
mod repo;
mod template;

pub use envsubst::{SubstError, Substituted, Unset, substitute, substitute_with, valid_name};
pub use pathmatch::{BadPattern, Slash, matches as path_match};
pub use repo::{RepoIdentity, RepoMatch, normalize_repo_path, normalize_url, redact_url};
pub use template::{Syntax, TemplateError, render, render_value, sanitize_name};
