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
