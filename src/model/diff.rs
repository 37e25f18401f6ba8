//! The one structural diff: how two rendered values are compared field by field, and how the items of a
//! list are matched. The parity rules (probes, mesh) and live drift both match list items here, by the
//! list-map keys Kubernetes itself declares (`patchMergeKey` / `x-kubernetes-list-map-keys`), so an item
//! moved within a list is never a difference and two diffs never disagree about which items correspond.
//!
//! Paths read `a.b[key].c`: `[key]` names a list item by its key (`containers[web]`,
//! `volumeMounts[/etc/config]`, `ports[containerPort=8080/TCP]`), `[2]` by position in a list without one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::compact;

/// The keys Kubernetes declares for the items of the lists a workload, Service or Ingress carries, by the
/// list's field name. An empty key list is a list Kubernetes treats as atomic: its items are matched by
/// position.
const LIST_KEYS: &[(&str, &[&str])] = &[
    ("containers", &["name"]),
    ("initContainers", &["name"]),
    ("ephemeralContainers", &["name"]),
    ("env", &["name"]),
    ("volumes", &["name"]),
    ("volumeMounts", &["mountPath"]),
    ("volumeDevices", &["devicePath"]),
    ("imagePullSecrets", &["name"]),
    ("resourceClaims", &["name"]),
    ("hostAliases", &["ip"]),
    (
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    ("conditions", &["type"]),
    // Container ports are keyed by containerPort and protocol, Service ports by port and protocol
    // (`protocol` defaults to TCP); see `port_key`.
    ("ports", &["containerPort", "protocol"]),
    ("envFrom", &[]),
    ("tolerations", &[]),
    ("httpHeaders", &[]),
    ("command", &[]),
    ("args", &[]),
];

/// How the item of the list `list` (the list's field name) is told apart from its siblings: the value of
/// the key Kubernetes declares for that list, or for lists Kubernetes does not know (custom resources) the
/// item's `name`. `None` for an item of a list matched by position.
pub fn list_key(list: &str, item: &Value) -> Option<String> {
    let object = item.as_object()?;
    match LIST_KEYS.iter().find(|(field, _)| *field == list) {
        Some(("ports", _)) => port_key(item),
        Some((_, [])) => None,
        Some((_, [key])) => Some(compact(object.get(*key)?)),
        Some((_, keys)) => keys
            .iter()
            .map(|k| Some(format!("{k}={}", compact(object.get(*k)?))))
            .collect::<Option<Vec<String>>>()
            .map(|parts| parts.join(",")),
        None => object
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// `containerPort=8080/TCP` (a container port) or `port=80/UDP` (a Service port).
fn port_key(item: &Value) -> Option<String> {
    let protocol = item
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    ["containerPort", "port"].iter().find_map(|field| {
        item.get(*field)
            .map(|p| format!("{field}={}/{protocol}", compact(p)))
    })
}

/// The items of the list `list` by their [`list_key`], or `None` when the list is matched by position (some
/// item has no key, or two share one).
pub fn keyed<'a>(list: &str, items: &'a [Value]) -> Option<BTreeMap<String, &'a Value>> {
    let map: BTreeMap<String, &Value> = items
        .iter()
        .map(|i| Some((list_key(list, i)?, i)))
        .collect::<Option<_>>()?;
    (map.len() == items.len()).then_some(map)
}

/// The parts of a path between the dots that are not inside `[…]` (a key may hold dots: `[/etc/app.d]`).
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// The field name of the list a path ends in (`spec.containers` → `containers`; `a[x].env` → `env`).
pub fn list_name(path: &str) -> &str {
    let last = segments(path).pop().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

/// Paths at which two values differ; list items are matched by [`keyed`], else by position when both
/// lists are as long, else the whole list differs.
pub fn diff_paths(a: &Value, b: &Value) -> Vec<String> {
    fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    match (x.get(k), y.get(k)) {
                        (Some(va), Some(vb)) => walk(va, vb, &join(k), out),
                        _ => out.push(join(k)),
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                let list = list_name(path);
                match (keyed(list, x), keyed(list, y)) {
                    (Some(kx), Some(ky)) => {
                        let keys: BTreeSet<&String> = kx.keys().chain(ky.keys()).collect();
                        for k in keys {
                            let p = format!("{path}[{k}]");
                            match (kx.get(k), ky.get(k)) {
                                (Some(va), Some(vb)) => walk(va, vb, &p, out),
                                _ => out.push(p),
                            }
                        }
                    }
                    _ if x.len() == y.len() => {
                        for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                            walk(va, vb, &format!("{path}[{i}]"), out);
                        }
                    }
                    _ => out.push(path.to_string()),
                }
            }
            _ if a == b => {}
            _ => out.push(path.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out
}

/// Every path at which any of `values` differs from `reference`, in first-seen order.
pub fn diff_paths_all<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    reference: &Value,
) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for value in values {
        for p in diff_paths(value, reference) {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    paths
}

/// The value at a path produced by [`diff_paths`] (`a.b[key].c`, `a[0]`).
pub fn value_at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for part in segments(path).into_iter().filter(|p| !p.is_empty()) {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .into_iter()
            .flat_map(|i| i.split("]["))
        {
            let items = current.as_array()?;
            current = match keyed(key, items) {
                Some(map) => map.get(index).copied()?,
                None => items.get(index.parse::<usize>().ok()?)?,
            };
        }
    }
    Some(current)
}

/// The values at `paths` in `value`, as `path: value; …` (`(absent)` where a path does not exist).
pub fn show_paths(value: &Value, paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| {
            let v = value_at(value, p).map_or_else(|| "(absent)".to_string(), compact);
            if p.is_empty() { v } else { format!("{p}: {v}") }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_matched_by_the_keys_kubernetes_declares() {
        let c = |name: &str| json!({"name": name});
        assert_eq!(list_key("containers", &c("web")).as_deref(), Some("web"));
        assert_eq!(list_key("env", &c("A")).as_deref(), Some("A"));
        // Two mounts of one volume (subPath) are two items: volumeMounts are keyed by mountPath.
        let m = json!({"name": "config", "mountPath": "/etc/app"});
        assert_eq!(list_key("volumeMounts", &m).as_deref(), Some("/etc/app"));
        // Ports by port and protocol, TCP by default, whether named or not.
        let p = json!({"name": "http", "containerPort": 8080});
        assert_eq!(
            list_key("ports", &p).as_deref(),
            Some("containerPort=8080/TCP")
        );
        let udp = json!({"port": 53, "protocol": "UDP"});
        assert_eq!(list_key("ports", &udp).as_deref(), Some("port=53/UDP"));
        let spread =
            json!({"topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1});
        assert_eq!(
            list_key("topologySpreadConstraints", &spread).as_deref(),
            Some("topologyKey=zone,whenUnsatisfiable=DoNotSchedule")
        );
        // Atomic lists are positional even when their items carry a name.
        assert_eq!(
            list_key("httpHeaders", &json!({"name": "X-A", "value": "1"})),
            None
        );
        assert_eq!(list_key("tolerations", &json!({"key": "k"})), None);
        // A custom resource's list: by name when the items have one.
        assert_eq!(list_key("http", &c("primary")).as_deref(), Some("primary"));
        assert_eq!(list_key("route", &json!({"weight": 10})), None);
    }

    #[test]
    fn lists_with_duplicate_or_missing_keys_are_positional() {
        let twice = [json!({"name": "a"}), json!({"name": "a"})];
        assert!(keyed("containers", &twice).is_none());
        let unnamed = [json!({"name": "a"}), json!({"image": "x"})];
        assert!(keyed("containers", &unnamed).is_none());
        assert_eq!(keyed("containers", &[]).map(|m| m.len()), Some(0));
    }

    #[test]
    fn diff_matches_keyed_items_wherever_they_stand() {
        let a = json!({"c": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]});
        let b = json!({"c": [{"name": "y", "v": 2}, {"name": "x", "v": 3}]});
        assert_eq!(diff_paths(&a, &b), vec!["c[x].v"]);
        let a = json!({"volumeMounts": [{"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/b", "readOnly": true}]});
        let b = json!({"volumeMounts": [{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/a"}]});
        assert_eq!(diff_paths(&a, &b), vec!["volumeMounts[/b].readOnly"]);
        let a = json!({"httpHeaders": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        let b = json!({"httpHeaders": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]});
        assert_eq!(
            diff_paths(&a, &b),
            vec![
                "httpHeaders[0].name",
                "httpHeaders[0].value",
                "httpHeaders[1].name",
                "httpHeaders[1].value"
            ]
        );
    }

    #[test]
    fn values_at_diff_paths() {
        let a = json!({"c": [{"name": "x", "v": 1}], "l": [5, 6],
            "volumeMounts": [{"name": "v", "mountPath": "/etc/x"}, {"name": "w", "mountPath": "/etc/app.d"}]});
        assert_eq!(
            value_at(&a, "volumeMounts[/etc/app.d].name"),
            Some(&json!("w"))
        );
        assert_eq!(list_name("spec.volumes[/a.b].env"), "env");
        assert_eq!(value_at(&a, "c[x].v"), Some(&json!(1)));
        assert_eq!(value_at(&a, "l[1]"), Some(&json!(6)));
        assert_eq!(value_at(&a, "volumeMounts[/etc/x].name"), Some(&json!("v")));
        assert_eq!(
            show_paths(&a, &["c[x].v".into(), "nope".into()]),
            "c[x].v: 1; nope: (absent)"
        );
    }
}
