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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::EnvNames;
    use crate::rules::testing::{check, draft, naming, object, service, web};

    fn config_map(name: &str, data: Value) -> Value {
        object("v1", "ConfigMap", name, json!({ "data": data }))
    }

    #[test]
    fn a_variable_set_in_production_only_fires() {
        let model = service("web")
            .env("staging", [web(|c| c.env("DB_URL", "staging-db"))])
            .env(
                "production",
                [web(|c| {
                    c.env("DB_URL", "prod-db").env("FEATURE_RESERVATIONS", "on")
                })],
            )
            .build();
        assert_eq!(
            check(&EnvNames, &model),
            [draft("Deployment/web")
                .container("web")
                .field("env")
                .envs(["staging"])
                .values([
                    ("staging", "missing FEATURE_RESERVATIONS"),
                    ("production", "all")
                ])
                .message(
                    "env var `FEATURE_RESERVATIONS` not set in every environment (missing in staging)"
                )]
        );
    }

    #[test]
    fn every_missing_name_is_listed_per_environment() {
        let model = service("web")
            .env("dev", [web(|c| c.env("DB_URL", "dev-db"))])
            .env("staging", [web(|c| c.env("DB_URL", "db").env("A", "1"))])
            .env(
                "production",
                [web(|c| c.env("B", "2").env("A", "1").env("DB_URL", "db"))],
            )
            .build();
        assert_eq!(
            check(&EnvNames, &model),
            [draft("Deployment/web")
                .container("web")
                .field("env")
                .envs(["dev", "staging"])
                .values([
                    ("dev", "missing A, B"),
                    ("staging", "missing B"),
                    ("production", "all")
                ])
                .message(
                    "env vars `A` and `B` not set in every environment (missing in dev and staging)"
                )]
        );
    }

    /// Values are never compared: another value, another order, or a value from a Secret is the same name.
    #[test]
    fn other_values_and_order_are_silent() {
        let model = service("web")
            .env(
                "staging",
                [web(|c| {
                    c.env("DB_URL", "staging-db")
                        .env("POOL_SIZE", "5")
                        .env("TOKEN", "not-a-secret")
                })
                .replicas(1)],
            )
            .env(
                "production",
                [web(|c| {
                    c.set(
                        "env",
                        json!([
                            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "web", "key": "token"}}},
                            {"name": "POOL_SIZE", "value": "50"},
                            {"name": "DB_URL", "value": "prod-db"},
                        ]),
                    )
                })
                .replicas(6)],
            )
            .build();
        assert_eq!(check(&EnvNames, &model), []);
    }

    /// envFrom loads a generated ConfigMap, whose hash suffix (and the overlay's name prefix) differs per
    /// environment; its keys are the names that count.
    #[test]
    fn keys_loaded_by_env_from_count_whatever_the_generated_name() {
        let staging = [
            web(|c| c.env_from(json!({"configMapRef": {"name": "staging-web-config-7g8m2kd4hb"}})))
                .into(),
            config_map(
                "staging-web-config-7g8m2kd4hb",
                json!({"LOG_LEVEL": "debug", "CACHE_TTL": "1"}),
            ),
        ];
        let production = |data: Value| {
            [
                web(|c| c.env_from(json!({"configMapRef": {"name": "web-config-9f2k5m7tbc"}})))
                    .into(),
                config_map("web-config-9f2k5m7tbc", data),
            ]
        };
        let same_keys = service("web")
            .env_named("staging", naming("staging-", ""), staging.clone())
            .env(
                "production",
                production(json!({"CACHE_TTL": "60", "LOG_LEVEL": "info"})),
            )
            .build();
        assert_eq!(check(&EnvNames, &same_keys), []);
        let one_more_key = service("web")
            .env_named("staging", naming("staging-", ""), staging)
            .env(
                "production",
                production(json!({"CACHE_TTL": "60", "LOG_LEVEL": "info", "RATE_LIMIT": "100"})),
            )
            .build();
        assert_eq!(
            check(&EnvNames, &one_more_key),
            [draft("Deployment/web")
                .container("web")
                .field("env")
                .envs(["staging"])
                .values([("staging", "missing RATE_LIMIT"), ("production", "all")])
                .message("env var `RATE_LIMIT` not set in every environment (missing in staging)")]
        );
    }

    #[test]
    fn a_missing_env_from_source_fires_with_the_keys_it_loads() {
        let model = service("web")
            .env("staging", [web(|c| c.env("DB_URL", "db"))])
            .env(
                "production",
                [
                    web(|c| {
                        c.env("DB_URL", "db").env_from(
                            json!({"prefix": "APP_", "secretRef": {"name": "web-secrets"}}),
                        )
                    })
                    .into(),
                    // Secret values are blanked when rendered; the keys are all env-names reads.
                    object(
                        "v1",
                        "Secret",
                        "web-secrets",
                        json!({"data": {"TOKEN": ""}}),
                    ),
                ],
            )
            .build();
        assert_eq!(
            check(&EnvNames, &model),
            [
                draft("Deployment/web")
                    .container("web")
                    .field("env")
                    .envs(["staging"])
                    .values([("staging", "missing APP_TOKEN"), ("production", "all")])
                    .message("env var `APP_TOKEN` not set in every environment (missing in staging)"),
                draft("Deployment/web")
                    .container("web")
                    .field("envFrom")
                    .envs(["staging"])
                    .values([
                        ("staging", "missing secret web-secrets (prefix APP_)"),
                        ("production", "all")
                    ])
                    .message(
                        "envFrom source `secret web-secrets (prefix APP_)` not set in every environment \
                         (missing in staging)"
                    ),
            ]
        );
    }
}
