//! `overlay-patch-count`: an overlay with many patches means the base is too generic.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::{Category, Rule, ServiceModel, Settings, and_list};
use crate::finding::{Draft, Severity};

#[doc = include_str!("docs/overlay-patch-count.md")]
pub struct OverlayPatchCount;

impl Rule for OverlayPatchCount {
    fn id(&self) -> &'static str {
        "overlay-patch-count"
    }
    fn summary(&self) -> &'static str {
        "an overlay declares more than 10 patches: the base is too generic"
    }
    fn category(&self) -> Category {
        Category::Structure
    }
    fn default_severity(&self) -> Severity {
        Severity::Warn
    }
    fn default_threshold(&self) -> Option<Decimal> {
        Some(Decimal::from(10))
    }
    fn doc(&self) -> &'static str {
        include_str!("docs/overlay-patch-count.md")
    }
    fn check(&self, service: &ServiceModel, settings: Settings, out: &mut Vec<Draft>) {
        let max = settings.threshold_or(Decimal::from(10));
        let over: Vec<String> = service
            .patch_counts
            .iter()
            .filter(|(_, n)| Decimal::from(**n) > max)
            .map(|(e, _)| e.clone())
            .collect();
        if over.is_empty() {
            return;
        }
        let values: IndexMap<String, String> = service
            .patch_counts
            .iter()
            .map(|(e, n)| (e.clone(), n.to_string()))
            .collect();
        out.push(Draft {
            kind: "Kustomization".into(),
            name: service.service.clone(),
            container: None,
            message: format!(
                "the {} overlay{} more than {} patches",
                and_list(&over),
                if over.len() == 1 { " has" } else { "s have" },
                max
            ),
            envs: over,
            field: "patches".into(),
            values,
        });
    }
}
