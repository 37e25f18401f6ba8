//! The live-drift rule ids: documented and configurable like the parity rules, but computed by
//! [`super::check`] from the cluster rather than from the rendered overlays.

use crate::finding::{Draft, Severity};
use crate::rules::{Category, Rule, ServiceModel, Settings};

macro_rules! live_rule {
    ($ty:ident, $id:literal, $doc:literal, $summary:literal, $severity:expr) => {
        #[doc = include_str!($doc)]
        pub struct $ty;

        impl Rule for $ty {
            fn id(&self) -> &'static str {
                $id
            }
            fn summary(&self) -> &'static str {
                $summary
            }
            fn category(&self) -> Category {
                Category::Live
            }
            fn default_severity(&self) -> Severity {
                $severity
            }
            fn doc(&self) -> &'static str {
                include_str!($doc)
            }
            /// Live drift needs the cluster: it is computed by `live::check`, not from the model.
            fn check(&self, _: &ServiceModel, _: Settings, _: &mut Vec<Draft>) {}
        }
    };
}

live_rule!(
    LiveValue,
    "live-value",
    "docs/live-value.md",
    "a field Git sets has another value in the cluster (with the manager that changed it)",
    Severity::Block
);
live_rule!(
    LiveManualField,
    "live-manual-field",
    "docs/live-manual-field.md",
    "a field set in the cluster by hand that Git does not set",
    Severity::Warn
);
live_rule!(
    LiveMissing,
    "live-missing",
    "docs/live-missing.md",
    "an object Git declares is missing from the cluster",
    Severity::Block
);
live_rule!(
    LiveExtra,
    "live-extra",
    "docs/live-extra.md",
    "an object in the cluster tracked as the service's that Git does not declare",
    Severity::Warn
);
