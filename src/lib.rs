//! envparity keeps Kubernetes environments honest: it renders every service of a GitOps repo in every
//! environment with the real kustomize and checks that what matters (images, resource ratios, env var names,
//! probes, ingress structure, mesh config) is the same from dev to production.
//!
//! The flow is a chain of plain data types (DESIGN.md): [`discover`] → [`render`] → [`model`] → the parity
//! stage ([`rules`]) and the drift stage ([`live`]) → [`rules::policy`], orchestrated by [`pipeline`] (the one
//! module that does I/O across stages, called by [`cli`] and [`daemon`] alike). Dependencies between
//! top-level modules point one way (docs/architecture.md; a test keeps it so); [`codes`] is the leaf every
//! module may use, and [`redact`] the leaf that hides values before any of them is shown.

pub mod cli;
pub mod codes;
pub mod config;
pub mod daemon;
pub mod discover;
pub mod finding;
pub mod gitops;
pub mod history;
pub mod input;
pub mod kustomization;
pub mod live;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod quantity;
pub mod redact;
pub mod render;
pub mod report;
pub mod rules;
pub mod source;
pub mod view;
pub mod yaml;
