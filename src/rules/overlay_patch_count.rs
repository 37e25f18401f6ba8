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
            at_most: None,
            env: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::OverlayPatchCount;
    use crate::rules::Settings;
    use crate::rules::testing::{ServiceBuilder, check, check_with, deployment, draft, service};

    /// A service in dev, staging and production.
    fn three_envs() -> ServiceBuilder {
        service("web")
            .env("dev", [deployment("web")])
            .env("staging", [deployment("web")])
            .env("production", [deployment("web")])
    }

    fn threshold(t: Decimal) -> Settings {
        Settings { threshold: Some(t) }
    }

    #[test]
    fn more_than_ten_patches_fire() {
        let model = three_envs()
            .patches("dev", 2)
            .patches("production", 11)
            .build();
        assert_eq!(
            check(&OverlayPatchCount, &model),
            [draft("Kustomization/web")
                .field("patches")
                .envs(["production"])
                .values([("dev", "2"), ("staging", "0"), ("production", "11")])
                .message("the production overlay has more than 10 patches")]
        );
    }

    #[test]
    fn exactly_ten_patches_are_silent() {
        let model = three_envs()
            .patches("staging", 10)
            .patches("production", 10)
            .build();
        assert_eq!(check(&OverlayPatchCount, &model), []);
    }

    #[test]
    fn a_configured_threshold_replaces_ten() {
        let model = three_envs()
            .patches("dev", 3)
            .patches("staging", 4)
            .patches("production", 5)
            .build();
        assert_eq!(check(&OverlayPatchCount, &model), []);
        assert_eq!(
            check_with(&OverlayPatchCount, &model, threshold(Decimal::from(3))),
            [draft("Kustomization/web")
                .field("patches")
                .envs(["staging", "production"])
                .values([("dev", "3"), ("staging", "4"), ("production", "5")])
                .message("the staging and production overlays have more than 3 patches")]
        );
        assert_eq!(
            check_with(&OverlayPatchCount, &model, threshold(Decimal::from(5))),
            []
        );
    }
}
