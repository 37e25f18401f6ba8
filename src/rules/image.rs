//! `image`: container image repository and tag/digest must match across environments.

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft};
use crate::codes::RuleId;
use crate::finding::Draft;

#[doc = include_str!("docs/image.md")]
pub struct Image;

impl Rule for Image {
    fn id(&self) -> RuleId {
        RuleId::Image
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for c in service.containers() {
            let images: Vec<(&str, &crate::model::Image)> = c
                .per_env
                .iter()
                .filter_map(|(env, ct)| Some((*env, ct.image.as_ref()?)))
                .collect();
            let Some((_, first)) = images.first() else {
                continue;
            };
            if images.iter().all(|(_, i)| i == first) {
                continue;
            }
            let what = if images.iter().all(|(_, i)| i.repository == first.repository) {
                "tag/digest"
            } else {
                "repository"
            };
            let values: IndexMap<String, String> = images
                .iter()
                .map(|(e, i)| (e.to_string(), i.raw.clone()))
                .collect();
            let envs: Vec<String> = values.keys().cloned().collect();
            let message = format!(
                "container `{}` runs a different image {what} in {}",
                c.name,
                and_list(&envs)
            );
            out.push(container_draft(&c, "image".into(), envs, values, message));
        }
    }
}
