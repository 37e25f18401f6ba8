//! `env-names`: the names of a container's env vars must match across environments (values may differ).

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::{Rule, ServiceModel, Settings, and_list, container_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::Container;

#[doc = include_str!("docs/env-names.md")]
pub struct EnvNames;

impl Rule for EnvNames {
    fn id(&self) -> RuleId {
        RuleId::EnvNames
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        type Get = fn(&Container) -> &BTreeSet<String>;
        let fields: [(&str, &str, Get); 2] = [
            ("env", "env var", |c| &c.env_names),
            ("envFrom", "envFrom source", |c| &c.env_from),
        ];
        for c in service.containers() {
            for (field, what, get) in fields {
                let all: BTreeSet<&String> = c.per_env.iter().flat_map(|(_, ct)| get(ct)).collect();
                let partial: Vec<&String> = all
                    .into_iter()
                    .filter(|name| c.per_env.iter().any(|(_, ct)| !get(ct).contains(*name)))
                    .collect();
                if partial.is_empty() {
                    continue;
                }
                let values: IndexMap<String, String> = c
                    .per_env
                    .iter()
                    .map(|(e, ct)| {
                        let missing: Vec<&str> = partial
                            .iter()
                            .filter(|n| !get(ct).contains(**n))
                            .map(|n| n.as_str())
                            .collect();
                        let v = if missing.is_empty() {
                            "all".to_string()
                        } else {
                            format!("missing {}", missing.join(", "))
                        };
                        (e.to_string(), v)
                    })
                    .collect();
                let envs: Vec<String> = values
                    .iter()
                    .filter(|(_, v)| v.as_str() != "all")
                    .map(|(e, _)| e.clone())
                    .collect();
                let message = format!(
                    "{what}{} {} not set in every environment (missing in {})",
                    if partial.len() == 1 { "" } else { "s" },
                    and_list(&partial.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>()),
                    and_list(&envs)
                );
                out.push(container_draft(&c, field.into(), envs, values, message));
            }
        }
    }
}
