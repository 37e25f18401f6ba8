//! The repository's own GitOps objects (DESIGN.md, "Environments and services: the deployment map", point 2).
//! So far: Flux's post-build variable substitution ([`substitute`]) and the Go `path.Match` semantics that
//! Flux and Argo CD both rely on.
//!
//! A leaf: nothing here knows about discovery, rendering or output.

mod envsubst;
mod pathmatch;

pub use envsubst::{SubstError, Substituted, Unset, substitute, substitute_with, valid_name};
pub use pathmatch::{BadPattern, Slash, matches as path_match};
