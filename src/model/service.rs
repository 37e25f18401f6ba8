//! One service rendered in every environment ([`ServiceModel`]): what the parity rules, the metrics, the
//! side-by-side view and live drift read.

use indexmap::IndexMap;

use super::{Container, EnvModel, Object, ObjectKey, Workload};
use crate::quantity::Quantity;

/// One service rendered in each environment: what every rule reads.
#[derive(Debug, Clone, Default)]
pub struct ServiceModel {
    /// Service name (its directory).
    pub service: String,
    /// The environments that rendered, in promotion order (the last one is the reference); peers of a tier
    /// are next to each other, the tier's reference peer last.
    pub envs: Vec<EnvModel>,
    /// Each environment's tier, as its position in the promotion order of tiers: environments of one tier
    /// are peers (regions, clusters). An environment missing here is a tier of its own.
    pub tiers: IndexMap<String, usize>,
    /// The rendered base, when the layout has one.
    pub base: Option<EnvModel>,
    /// Number of patches each overlay's kustomization declares.
    pub patch_counts: IndexMap<String, usize>,
}

/// A container as it appears in each environment that has it.
pub struct ContainerAcross<'a> {
    /// The workload's key.
    pub workload: &'a ObjectKey,
    /// Container name.
    pub name: &'a str,
    /// `(env, container)` in promotion order.
    pub per_env: Vec<(&'a str, &'a Container)>,
}

impl ServiceModel {
    /// Every workload key, in first-seen order across environments.
    pub fn workload_keys(&self) -> Vec<&ObjectKey> {
        let mut keys: Vec<&ObjectKey> = Vec::new();
        for w in self.envs.iter().flat_map(|e| &e.workloads) {
            if !keys.contains(&&w.key) {
                keys.push(&w.key);
            }
        }
        keys
    }

    /// A workload in each environment that has it.
    pub fn workload_across<'a>(&'a self, key: &ObjectKey) -> Vec<(&'a str, &'a Workload)> {
        self.envs
            .iter()
            .filter_map(|e| Some((e.env.as_str(), e.workload_by_key(key)?)))
            .collect()
    }

    /// Every container matched across environments by workload and container name.
    pub fn containers(&self) -> Vec<ContainerAcross<'_>> {
        let mut out: Vec<ContainerAcross<'_>> = Vec::new();
        for env in &self.envs {
            for w in &env.workloads {
                for c in &w.containers {
                    match out
                        .iter_mut()
                        .find(|x| x.workload == &w.key && x.name == c.name)
                    {
                        Some(x) => x.per_env.push((env.env.as_str(), c)),
                        None => out.push(ContainerAcross {
                            workload: &w.key,
                            name: &c.name,
                            per_env: vec![(env.env.as_str(), c)],
                        }),
                    }
                }
            }
        }
        out
    }

    /// Keys of the objects `keep` accepts, in first-seen order across environments.
    pub fn object_keys(&self, keep: impl Fn(&Object) -> bool) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = Vec::new();
        for o in self.envs.iter().flat_map(|e| &e.objects) {
            if keep(o) && !keys.contains(&o.key) {
                keys.push(o.key.clone());
            }
        }
        keys
    }

    /// For every environment that has the object, what `show` makes of it.
    pub fn per_env<T>(
        &self,
        key: &ObjectKey,
        show: impl Fn(&EnvModel, &Object) -> Option<T>,
    ) -> Vec<(&str, T)> {
        self.envs
            .iter()
            .filter_map(|e| Some((e.env.as_str(), show(e, e.object(key)?)?)))
            .collect()
    }

    /// Whether `a` and `b` are peers: two environments of one tier.
    pub fn peers(&self, a: &str, b: &str) -> bool {
        a != b
            && self
                .tiers
                .get(a)
                .is_some_and(|t| self.tiers.get(b) == Some(t))
    }

    /// The environments that rendered grouped into tiers of at least two peers, in promotion order, each
    /// reference peer first (the reference of the peers that rendered, when the configured one did not).
    pub fn peer_groups(&self) -> Vec<Vec<&str>> {
        let mut groups: Vec<(usize, Vec<&str>)> = Vec::new();
        for e in &self.envs {
            let Some(tier) = self.tiers.get(&e.env) else {
                continue;
            };
            match groups.iter_mut().find(|(t, _)| t == tier) {
                Some((_, members)) => members.push(&e.env),
                None => groups.push((*tier, vec![&e.env])),
            }
        }
        groups
            .into_iter()
            .filter(|(_, members)| members.len() > 1)
            .map(|(_, mut members)| {
                // In `envs` a tier's reference peer comes last.
                members.reverse();
                members
            })
            .collect()
    }

    /// Position of an environment in the promotion order.
    pub fn rank(&self, env: &str) -> usize {
        self.envs
            .iter()
            .position(|e| e.env == env)
            .unwrap_or(usize::MAX)
    }
}

impl ContainerAcross<'_> {
    /// Every resource name that has a limit in some environment, with the limit in each environment that
    /// sets it.
    pub fn limits(&self) -> Vec<(&str, Vec<(&str, &Quantity)>)> {
        let names: std::collections::BTreeSet<&str> = self
            .per_env
            .iter()
            .flat_map(|(_, c)| c.resources.limits.keys().map(String::as_str))
            .collect();
        names
            .into_iter()
            .map(|resource| {
                let per_env = self
                    .per_env
                    .iter()
                    .filter_map(|(e, c)| Some((*e, c.resources.limits.get(resource)?)))
                    .collect();
                (resource, per_env)
            })
            .collect()
    }
}
