//! Tiers and peers: where each environment stands in the promotion order.
//!
//! An environment's *tier* is decided by its environment word — the whole name when it is one, else its first
//! token (split on `-`, `_`, `.`) that is one: `prod-eu`, `eu-prod` and `production` are all the production
//! tier. Environments of one tier are *peers* (regions, clusters); the tier's first environment is its
//! *reference peer*. Tiers are in promotion order and the last one is the reference. Names with no
//! environment word are one tier of peers, before the known ones (see [`infer`]).
//!
//! The flat promotion order every consumer reads ([`flatten`]) lists each tier's peers with the reference
//! peer *last*, so "the last environment is the reference" stays true everywhere, peers or not.

use serde::Serialize;

/// The default environment words, one list per tier, earliest tier first (`environments.vocabulary`
/// replaces them).
const DEFAULT_VOCABULARY: &[&[&str]] = &[
    &["dev", "develop", "development", "local", "sandbox"],
    &["qa", "test", "testing", "int", "integration", "ci", "sit"],
    &["perf", "performance", "load", "loadtest", "stress"],
    &[
        "uat",
        "stage",
        "staging",
        "stg",
        "preprod",
        "pre-prod",
        "preproduction",
    ],
    &["prod", "production", "prd", "live"],
];

/// The environment words, one list per tier in promotion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    tiers: Vec<Vec<String>>,
}

impl Default for Vocabulary {
    /// dev/develop/sandbox < qa/test/int/integration < perf/load < uat/stage/staging/preprod <
    /// prod/production/live (and a few more spellings of each).
    fn default() -> Self {
        Vocabulary {
            tiers: DEFAULT_VOCABULARY
                .iter()
                .map(|t| t.iter().map(|w| w.to_string()).collect())
                .collect(),
        }
    }
}

impl Vocabulary {
    /// A vocabulary of these words per tier, earliest first. Words are matched case-insensitively.
    pub fn new(tiers: &[Vec<String>]) -> Self {
        Vocabulary {
            tiers: tiers
                .iter()
                .map(|t| t.iter().map(|w| w.to_ascii_lowercase()).collect())
                .collect(),
        }
    }

    /// The tier of an environment word (any case), when it is one.
    pub fn tier(&self, word: &str) -> Option<usize> {
        let word = word.to_ascii_lowercase();
        self.tiers.iter().position(|t| t.contains(&word))
    }

    /// Whether `word` (any case) is an environment word.
    pub fn is_word(&self, word: &str) -> bool {
        self.tier(word).is_some()
    }

    /// The environment word of a name (lowercase) and its tier: the whole name when it is a word, else its
    /// first token that is one (`staging-us-east-1` → `staging`, `eu-prod` → `prod`).
    pub fn word_of(&self, name: &str) -> Option<(String, usize)> {
        let lower = name.to_ascii_lowercase();
        if let Some(t) = self.tier(&lower) {
            return Some((lower, t));
        }
        let tokens: Vec<&str> = lower.split(['-', '_', '.']).collect();
        tokens.iter().enumerate().find_map(|(i, token)| {
            // `non-prod` (or `nonprod`) is not production but what comes before it.
            if let Some(word) = token.strip_prefix("non").filter(|w| self.is_word(w)) {
                let tier = self.tier(word)?;
                return Some((format!("non{word}"), tier.saturating_sub(1)));
            }
            if i > 0 && tokens[i - 1] == "non" {
                let tier = self.tier(token)?;
                return Some((format!("non-{token}"), tier.saturating_sub(1)));
            }
            Some((token.to_string(), self.tier(token)?))
        })
    }
}

/// One tier: peers that run the same thing in different places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tier {
    /// The tier's name: its environment when it has one, else the reference peer's environment word
    /// (`prod` for `prod-eu` and `prod-us`).
    pub name: String,
    /// Its environments, the reference peer first.
    pub envs: Vec<String>,
}

impl Tier {
    /// The reference peer.
    pub fn reference(&self) -> &str {
        self.envs.first().map_or("", String::as_str)
    }
}

/// Tiers of the given environments by their words: known tiers in the vocabulary's order, each tier's
/// peers alphabetical (the first is the reference). Names without an environment word (clusters, platforms,
/// colours, variants: `kind`, `cluster2`, `blue`, `ha`) say nothing about promotion, so they are one tier of
/// peers — `default` (the default of a service's variants) its reference, else the first alphabetically —
/// placed before the known tiers (they are most often local clusters or alternatives, never the production
/// a known word names).
pub fn infer<'a>(envs: impl IntoIterator<Item = &'a str>, vocabulary: &Vocabulary) -> Vec<Tier> {
    let mut known: Vec<(usize, String)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for e in envs {
        match vocabulary.word_of(e) {
            Some((_, tier)) => known.push((tier, e.to_string())),
            None => unknown.push(e.to_string()),
        }
    }
    known.sort();
    known.dedup();
    unknown.sort_by(|a, b| (a != "default", a).cmp(&(b != "default", b)));
    unknown.dedup();
    let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
    for (tier, env) in known {
        match groups.last_mut() {
            Some((t, members)) if *t == tier => members.push(env),
            _ => groups.push((tier, vec![env])),
        }
    }
    let groups = (!unknown.is_empty())
        .then_some(unknown)
        .into_iter()
        .chain(groups.into_iter().map(|(_, g)| g))
        .collect();
    named(groups, vocabulary)
}

/// Tiers of a configured promotion order (`environments.order`): environments that share a tier by their
/// words are peers, placed where the first of them is listed, in the order listed (the first is the
/// reference); a name without an environment word is a tier of its own.
pub fn from_order(order: &[String], vocabulary: &Vocabulary) -> Vec<Tier> {
    let mut groups: Vec<(Option<usize>, Vec<String>)> = Vec::new();
    for env in order {
        let tier = vocabulary.word_of(env).map(|(_, t)| t);
        match groups
            .iter_mut()
            .find(|(t, _)| tier.is_some() && *t == tier)
        {
            Some((_, members)) if !members.contains(env) => members.push(env.clone()),
            Some(_) => {}
            None => groups.push((tier, vec![env.clone()])),
        }
    }
    named(groups.into_iter().map(|(_, g)| g).collect(), vocabulary)
}

/// Tiers as configured (`environments.tiers`): each list is a tier, its first environment the reference.
pub fn configured(tiers: &[Vec<String>], vocabulary: &Vocabulary) -> Vec<Tier> {
    named(
        tiers.iter().filter(|t| !t.is_empty()).cloned().collect(),
        vocabulary,
    )
}

/// Names each group: a lone environment names its tier; peers take the reference peer's environment word,
/// unless another tier or environment already has that name (then the reference peer's name).
fn named(groups: Vec<Vec<String>>, vocabulary: &Vocabulary) -> Vec<Tier> {
    let all: Vec<&String> = groups.iter().flatten().collect();
    let mut tiers: Vec<Tier> = Vec::new();
    for envs in &groups {
        let Some(reference) = envs.first() else {
            continue;
        };
        let mut name = match envs.as_slice() {
            [one] => one.clone(),
            _ => vocabulary
                .word_of(reference)
                .map_or_else(|| reference.clone(), |(w, _)| w),
        };
        let taken = tiers.iter().any(|t| t.name == name)
            || all.iter().any(|e| **e == name && !envs.contains(e));
        if taken {
            name = reference.clone();
        }
        tiers.push(Tier {
            name,
            envs: envs.clone(),
        });
    }
    tiers
}

/// The flat promotion order: tier by tier, each tier's peers with the reference peer last, so that the last
/// environment is the reference (of the last tier) and each tier's reference follows its peers.
pub fn flatten(tiers: &[Tier]) -> Vec<String> {
    tiers
        .iter()
        .flat_map(|t| t.envs.iter().rev().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(tiers: &[Tier]) -> Vec<(&str, Vec<&str>)> {
        tiers
            .iter()
            .map(|t| (t.name.as_str(), t.envs.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn words_of_names() {
        let v = Vocabulary::default();
        assert_eq!(v.word_of("eu-prod"), Some(("prod".into(), 4)));
        assert_eq!(v.word_of("staging-us-east-1"), Some(("staging".into(), 3)));
        assert_eq!(v.word_of("Production"), Some(("production".into(), 4)));
        assert_eq!(v.word_of("pre-prod"), Some(("pre-prod".into(), 3)));
        assert_eq!(
            v.word_of("uat"),
            v.word_of("staging").map(|(_, t)| ("uat".into(), t))
        );
        assert_eq!(v.word_of("canary"), None);
        assert_eq!(v.word_of("eu-west-1"), None);
    }

    #[test]
    fn inferred_tiers_group_peers_by_their_word() {
        let v = Vocabulary::default();
        let tiers = infer(
            [
                "prod-us",
                "staging-eu",
                "qa",
                "dev",
                "load",
                "eu-prod",
                "integration-gpu",
                "uat",
                "staging-us-east-1",
                "zeta",
                "canary",
            ],
            &v,
        );
        assert_eq!(
            shape(&tiers),
            [
                // Names without an environment word are peers, before the known tiers.
                ("canary", vec!["canary", "zeta"]),
                ("dev", vec!["dev"]),
                ("integration", vec!["integration-gpu", "qa"]),
                ("load", vec!["load"]),
                ("staging", vec!["staging-eu", "staging-us-east-1", "uat"]),
                ("prod", vec!["eu-prod", "prod-us"]),
            ]
        );
        assert_eq!(
            flatten(&tiers),
            [
                "zeta",
                "canary",
                "dev",
                "qa",
                "integration-gpu",
                "load",
                "uat",
                "staging-us-east-1",
                "staging-eu",
                "prod-us",
                "eu-prod",
            ]
        );
    }

    #[test]
    fn one_environment_per_tier_keeps_its_order_and_names() {
        let v = Vocabulary::default();
        let tiers = infer(["production", "staging", "dev"], &v);
        assert_eq!(
            shape(&tiers),
            [
                ("dev", vec!["dev"]),
                ("staging", vec!["staging"]),
                ("production", vec!["production"])
            ]
        );
        assert_eq!(flatten(&tiers), ["dev", "staging", "production"]);
    }

    #[test]
    fn non_prod_is_the_tier_before_production() {
        let v = Vocabulary::default();
        let staging = v.tier("staging");
        assert_eq!(v.word_of("non-prod").map(|(_, t)| Some(t)), Some(staging));
        assert_eq!(v.word_of("nonprod-eu").map(|(_, t)| Some(t)), Some(staging));
        assert_eq!(
            v.word_of("eu-non-prod").map(|(w, _)| w),
            Some("non-prod".into())
        );
        assert_eq!(v.word_of("prod-eu").map(|(w, _)| w), Some("prod".into()));
    }

    #[test]
    fn the_default_of_variants_is_their_reference() {
        let v = Vocabulary::default();
        let tiers = infer(["ha", "default", "arm64"], &v);
        assert_eq!(shape(&tiers), [("default", vec!["default", "arm64", "ha"])]);
        assert_eq!(flatten(&tiers), ["ha", "arm64", "default"]);
        let tiers = infer(["ha", "default", "dev"], &v);
        assert_eq!(flatten(&tiers), ["ha", "default", "dev"]);
    }

    #[test]
    fn a_configured_order_picks_the_reference_peer_and_places_the_tier() {
        let v = Vocabulary::default();
        let order: Vec<String> = ["dev", "prod-us", "staging", "prod-eu", "canary"]
            .map(String::from)
            .to_vec();
        let tiers = from_order(&order, &v);
        assert_eq!(
            shape(&tiers),
            [
                ("dev", vec!["dev"]),
                ("prod", vec!["prod-us", "prod-eu"]),
                ("staging", vec!["staging"]),
                ("canary", vec!["canary"]),
            ]
        );
        assert_eq!(tiers[1].reference(), "prod-us");
        assert_eq!(
            flatten(&tiers),
            ["dev", "prod-eu", "prod-us", "staging", "canary"]
        );
    }

    #[test]
    fn configured_tiers_are_taken_as_written() {
        let v = Vocabulary::default();
        let tiers = configured(
            &[
                vec!["dev".into()],
                vec!["eu1".into(), "us1".into()],
                vec!["prod".into()],
                vec!["prod-us".into(), "prod-eu".into()],
            ],
            &v,
        );
        assert_eq!(
            shape(&tiers),
            [
                ("dev", vec!["dev"]),
                ("eu1", vec!["eu1", "us1"]),
                ("prod", vec!["prod"]),
                // `prod` names another tier already.
                ("prod-us", vec!["prod-us", "prod-eu"]),
            ]
        );
    }

    #[test]
    fn a_configured_vocabulary_replaces_the_words() {
        let v = Vocabulary::new(&[vec!["Lab".into()], vec!["edge".into(), "core".into()]]);
        assert_eq!(v.tier("lab"), Some(0));
        assert_eq!(v.tier("dev"), None);
        let tiers = infer(["core-us", "edge-eu", "lab", "prod"], &v);
        assert_eq!(
            shape(&tiers),
            [
                ("prod", vec!["prod"]),
                ("lab", vec!["lab"]),
                ("core", vec!["core-us", "edge-eu"]),
            ]
        );
    }
}
