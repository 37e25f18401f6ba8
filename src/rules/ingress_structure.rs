//! `ingress-structure`: Ingress rules, paths, backends and TLS must match across environments
//! (hostnames may differ).

use serde_json::Value;

use super::{Rule, ServiceModel, Settings, and_list, differing_from_reference, object_draft};
use crate::codes::RuleId;
use crate::finding::Draft;
use crate::model::{EnvModel, Object, ingress_routes as routes};

#[doc = include_str!("docs/ingress-structure.md")]
pub struct IngressStructure;

impl Rule for IngressStructure {
    fn id(&self) -> RuleId {
        RuleId::IngressStructure
    }
    fn check(&self, service: &ServiceModel, _: Settings, out: &mut Vec<Draft>) {
        for key in service.object_keys(|o| o.key.kind == "Ingress") {
            type Show = fn(&EnvModel, &Object) -> String;
            let aspects: [(&str, &str, Show); 2] = [
                ("spec.rules", "routes", |e, o| {
                    let r = routes(e, o);
                    if r.is_empty() {
                        "(no rules)".into()
                    } else {
                        r.join("; ")
                    }
                }),
                ("spec.tls", "TLS", |_, o| tls(o)),
            ];
            for (field, what, show) in aspects {
                let per_env = service.per_env(&key, |e, o| Some(show(e, o)));
                let Some((differing, ref_env)) = differing_from_reference(&per_env) else {
                    continue;
                };
                let message = format!(
                    "ingress {what} in {} differ from {ref_env}",
                    and_list(&differing)
                );
                let values = per_env
                    .into_iter()
                    .map(|(e, v)| (e.to_string(), v))
                    .collect();
                let mut envs = differing;
                envs.push(ref_env);
                out.push(object_draft(&key, field, envs, values, message));
            }
        }
    }
}

fn tls(ingress: &Object) -> String {
    match ingress.value.pointer("/spec/tls").and_then(Value::as_array) {
        Some(entries) if !entries.is_empty() => "TLS".into(),
        _ => "no TLS".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::IngressStructure;
    use crate::rules::testing::{check, draft, naming, object, service};

    /// An Ingress `web` with one rule for `host`.
    fn ingress(host: &str, paths: Value) -> Value {
        object(
            "networking.k8s.io/v1",
            "Ingress",
            "web",
            json!({"spec": {"rules": [{"host": host, "http": {"paths": paths}}]}}),
        )
    }

    fn path(path: &str, path_type: &str, service: &str, port: Value) -> Value {
        json!({"path": path, "pathType": path_type, "backend": {"service": {"name": service, "port": port}}})
    }

    fn with_tls(mut ingress: Value, host: &str, secret: &str) -> Value {
        ingress["spec"]["tls"] = json!([{"hosts": [host], "secretName": secret}]);
        ingress
    }

    fn root() -> Value {
        path("/", "Prefix", "web", json!({"number": 80}))
    }

    #[test]
    fn a_path_only_production_has_fires() {
        let one_path = || ingress("shop.example.com", json!([root()]));
        let model = service("web")
            .env("dev", [one_path()])
            .env("staging", [one_path()])
            .env(
                "production",
                [ingress(
                    "shop.example.com",
                    json!([
                        root(),
                        path("/admin", "Exact", "web", json!({"number": 80}))
                    ]),
                )],
            )
            .build();
        assert_eq!(
            check(&IngressStructure, &model),
            [draft("Ingress/web")
                .field("spec.rules")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "/ (Prefix) → web:80"),
                    ("staging", "/ (Prefix) → web:80"),
                    ("production", "/ (Prefix) → web:80; /admin (Exact) → web:80"),
                ])
                .message("ingress routes in dev and staging differ from production")]
        );
    }

    #[test]
    fn another_path_type_or_backend_port_fires() {
        let model = service("web")
            .env(
                "dev",
                [ingress(
                    "shop.example.com",
                    json!([path("/", "Exact", "web", json!({"number": 80}))]),
                )],
            )
            .env(
                "staging",
                [ingress(
                    "shop.example.com",
                    json!([path("/", "Prefix", "web", json!({"number": 8080}))]),
                )],
            )
            .env("production", [ingress("shop.example.com", json!([root()]))])
            .build();
        assert_eq!(
            check(&IngressStructure, &model),
            [draft("Ingress/web")
                .field("spec.rules")
                .envs(["dev", "staging", "production"])
                .values([
                    ("dev", "/ (Exact) → web:80"),
                    ("staging", "/ (Prefix) → web:8080"),
                    ("production", "/ (Prefix) → web:80"),
                ])
                .message("ingress routes in dev and staging differ from production")]
        );
    }

    #[test]
    fn tls_missing_in_staging_fires() {
        let plain = || ingress("shop.example.com", json!([root()]));
        let model = service("web")
            .env("staging", [plain()])
            .env(
                "production",
                [with_tls(plain(), "shop.example.com", "shop-tls")],
            )
            .build();
        assert_eq!(
            check(&IngressStructure, &model),
            [draft("Ingress/web")
                .field("spec.tls")
                .envs(["staging", "production"])
                .values([("staging", "no TLS"), ("production", "TLS")])
                .message("ingress TLS in staging differ from production")]
        );
    }

    /// Hostnames, TLS secrets, the overlay's name prefix on the backend, a port by name or by number, path
    /// order and key order are not structure.
    #[test]
    fn the_same_structure_spelled_otherwise_is_silent() {
        let web_service = |name: &str| {
            object(
                "v1",
                "Service",
                name,
                json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
            )
        };
        let dev = with_tls(
            ingress(
                "dev.shop.example.com",
                json!([
                    {"backend": {"service": {"port": {"name": "http"}, "name": "dev-web"}}, "pathType": "Exact", "path": "/admin"},
                    path("/", "Prefix", "dev-web", json!({"name": "http"})),
                ]),
            ),
            "dev.shop.example.com",
            "dev-tls",
        );
        let production = with_tls(
            ingress(
                "shop.example.com",
                json!([
                    root(),
                    path("/admin", "Exact", "web", json!({"number": 80}))
                ]),
            ),
            "shop.example.com",
            "shop-tls",
        );
        let model = service("web")
            .env_named("dev", naming("dev-", ""), [dev, web_service("dev-web")])
            .env("production", [production, web_service("web")])
            .build();
        assert_eq!(check(&IngressStructure, &model), []);
    }

    /// An Ingress only one environment renders is resource-set's finding.
    #[test]
    fn an_ingress_in_one_environment_only_is_silent() {
        let model = service("web")
            .env("staging", [object("v1", "Service", "web", json!({}))])
            .env("production", [ingress("shop.example.com", json!([root()]))])
            .build();
        assert_eq!(check(&IngressStructure, &model), []);
    }
}
