//! `overlay-patch-count`: an overlay with many patches means the base is too generic.

use indexmap::IndexMap;
use rust_decimal::Decimal;

use super::{Rule, ServiceModel, Settings, and_list};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/overlay-patch-count.md")]
pub struct OverlayPatchCount;

impl Rule for OverlayPatchCount {
    fn id(&self) -> RuleId {
        RuleId::OverlayPatchCount
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
