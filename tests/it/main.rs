//! Integration tests, in one binary so the suite links once (DESIGN.md: build size).
//! They run the real `kubectl kustomize`.

mod apiserver;
mod architecture;
mod charts;
mod cli;
mod daemon;
mod daemon_e2e;
mod deploy;
mod deploy_time;
mod destinations;
mod digest;
mod failpoints;
mod git;
mod gitserver;
mod history;
mod hostile;
mod kube;
mod live_namespaces;
mod live_sync;
mod parse_props;
mod pipeline;
mod redaction;
mod render;
mod rules;
mod shapes;
mod site;
mod support;
mod untrusted;
