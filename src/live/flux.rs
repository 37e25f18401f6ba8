//! Flux `Kustomization` objects as they run in a cluster, as plain data: whether reconciliation is suspended,
//! and who suspended it. Read through any [`LiveSource`], so it stays read-only and testable.

use serde_json::Value;

use super::diff::Written;
use super::source::{ListRequest, LiveError, LiveSource};

/// `apiVersion` Flux Kustomizations are listed at (a cluster serving another version answers through the
/// group; a dump matches by group).
pub const API_VERSION: &str = "kustomize.toolkit.fluxcd.io/v1";
/// Kind of Flux's Kustomization.
pub const KIND: &str = "Kustomization";

/// One live Flux Kustomization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kustomization {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (usually `flux-system`).
    pub namespace: Option<String>,
    /// `spec.suspend`: Flux stops reconciling it (`flux suspend kustomization`).
    pub suspend: bool,
    /// Who last wrote `spec.suspend` and when (`metadata.managedFields`).
    pub suspend_by: Option<Written>,
}

/// The request that lists Flux Kustomizations in `namespace` (all namespaces with `None`).
pub fn request(namespace: Option<&str>) -> ListRequest {
    ListRequest {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        namespace: namespace.map(str::to_string),
    }
}

/// The Flux Kustomizations `source` serves for `env` (in `namespace`, or all namespaces), or `None` when the
/// cluster does not serve them (Flux not installed there). A 403 is an error.
pub fn kustomizations(
    source: &dyn LiveSource,
    env: &str,
    namespace: Option<&str>,
) -> Result<Option<Vec<Kustomization>>, LiveError> {
    let listed = source.list(env, &[request(namespace)])?;
    match listed.into_iter().next() {
        None => Ok(None),
        Some(l) => Ok(l.served()?.map(|o| o.iter().map(kustomization).collect())),
    }
}

/// One Flux Kustomization object as data.
pub fn kustomization(o: &Value) -> Kustomization {
    let text = |p: &str| o.pointer(p).and_then(Value::as_str).map(str::to_string);
    Kustomization {
        name: text("/metadata/name").unwrap_or_default(),
        namespace: text("/metadata/namespace"),
        suspend: o.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true),
        suspend_by: super::diff::written(o, "spec.suspend", "spec"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_suspended_kustomization_names_who_suspended_it() {
        let k = kustomization(&json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "web", "namespace": "flux-system", "managedFields": [
                {"manager": "kustomize-controller", "operation": "Apply", "time": "2026-11-01T08:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:path": {}, "f:interval": {}}}},
                {"manager": "flux", "operation": "Update", "time": "2026-11-21T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:suspend": {}}}}
            ]},
            "spec": {"path": "./apps/web", "interval": "5m", "suspend": true}
        }));
        assert!(k.suspend);
        let by = k.suspend_by.expect("written");
        assert!(by.exact);
        assert_eq!(by.by.manager, "flux");
        assert_eq!(by.by.time, "2026-11-21T10:00:00Z".parse().ok());
    }
}
