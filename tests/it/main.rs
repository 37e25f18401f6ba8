//! Integration tests, in one binary so the suite links once (DESIGN.md: build size).
//! They run the real `kubectl kustomize`.

mod charts;
mod cli;
mod git;
mod gitserver;
mod history;
mod pipeline;
mod render;
mod rules;
mod site;
mod support;
