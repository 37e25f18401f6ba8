//! Live drift: what runs in each environment's cluster against what Git declares, read-only (get/list
//! only), with who-changed-it attribution from `metadata.managedFields`.

pub mod diff;
pub mod rules;
pub mod source;
