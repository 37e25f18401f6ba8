//! The kustomization graph: every directory of the repo that holds a kustomization, what it references
//! (`resources`, `bases`, `components` that are local directories with a kustomization), and its role —
//! a component, a base (something else references it) or a root (nothing does: deployable).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use crate::input::Reader;
use crate::kustomization::{Kustomization, is_remote, kustomization_file, repo_path as normalize};

/// Directories deeper than this are not searched (a link loop or a generated tree, not a GitOps layout).
const MAX_DEPTH: usize = 24;
/// At most this many directories are visited: a repo of vendored trees gets its kustomizations found
/// anyway in the first ones, and a hostile one cannot make discovery endless.
const MAX_DIRS: usize = 200_000;

/// What a kustomization is in the repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `kind: Component`: mixed into other kustomizations, never deployed alone.
    Component,
    /// Referenced by another kustomization.
    Base,
    /// Referenced by none: deployable.
    Root,
}

/// One kustomization of the repo.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its directory, relative to the repo root.
    pub dir: PathBuf,
    /// The directories (repo-relative) of the kustomizations it references, in the order written.
    pub references: Vec<PathBuf>,
    /// Entries fetched from the network (remote bases).
    pub remote: Vec<String>,
    /// Whether it inflates Helm charts.
    pub helm: bool,
    /// `kind: Component`.
    pub component: bool,
    /// The kustomizations that reference it.
    pub referenced_by: Vec<PathBuf>,
    /// Whether it declares objects itself (a resource file, a generator), besides those of the
    /// kustomizations it references.
    pub declares: bool,
}

/// Every kustomization of a repo.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// By directory.
    pub nodes: BTreeMap<PathBuf, Node>,
    /// Kustomizations that could not be read, with why (they are still nodes of the graph: an overlay with
    /// a malformed kustomization is reported when it is rendered, not lost here).
    pub unreadable: Vec<(PathBuf, String)>,
    /// Whether the search stopped at [`MAX_DIRS`] directories.
    pub truncated: bool,
}

impl Graph {
    /// Finds every kustomization under `reader`'s root (hidden directories and directory links are not
    /// entered) and links them.
    pub fn build(reader: &Reader) -> Graph {
        let root = reader.root();
        let mut graph = Graph::default();
        let mut dirs = vec![(PathBuf::new(), 0usize)];
        let mut visited = 0usize;
        while let Some((rel, depth)) = dirs.pop() {
            visited += 1;
            if visited > MAX_DIRS {
                graph.truncated = true;
                break;
            }
            let abs = root.join(&rel);
            if kustomization_file(&abs).is_some() {
                graph.add(reader, &rel);
            }
            if depth >= MAX_DEPTH {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&abs) else {
                continue;
            };
            let mut children: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .filter(|n| !n.to_string_lossy().starts_with('.'))
                .map(|n| rel.join(n))
                .collect();
            // Depth-first, alphabetical: a deterministic graph whatever order the file system lists.
            children.sort();
            dirs.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
        let edges: Vec<(PathBuf, PathBuf)> = graph
            .nodes
            .values()
            .flat_map(|n| n.references.iter().map(|r| (r.clone(), n.dir.clone())))
            .collect();
        for (to, from) in edges {
            if let Some(node) = graph.nodes.get_mut(&to)
                && !node.referenced_by.contains(&from)
            {
                node.referenced_by.push(from);
            }
        }
        graph
    }

    fn add(&mut self, reader: &Reader, rel: &Path) {
        let mut node = Node {
            dir: rel.to_path_buf(),
            references: Vec::new(),
            remote: Vec::new(),
            helm: false,
            component: false,
            referenced_by: Vec::new(),
            declares: false,
        };
        match Kustomization::read(&reader.root().join(rel), reader) {
            Ok(k) => {
                node.component = k.component;
                node.helm = k.helm;
                node.declares = k.generates;
                for entry in &k.references {
                    if is_remote(entry) {
                        node.remote.push(entry.clone());
                        continue;
                    }
                    let Some(target) = normalize(&rel.join(entry)) else {
                        continue;
                    };
                    if kustomization_file(&reader.root().join(&target)).is_none() {
                        node.declares = true;
                    } else if !node.references.contains(&target) && target != rel {
                        node.references.push(target);
                    }
                }
            }
            Err(e) => self.unreadable.push((rel.to_path_buf(), e.to_string())),
        }
        self.nodes.insert(rel.to_path_buf(), node);
    }

    /// The role of the kustomization in `dir`.
    pub fn role(&self, dir: &Path) -> Option<Role> {
        let node = self.nodes.get(dir)?;
        Some(if node.component {
            Role::Component
        } else if node.referenced_by.is_empty() {
            Role::Root
        } else {
            Role::Base
        })
    }

    /// The roots, in path order.
    pub fn roots(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .values()
            .filter(|n| self.role(&n.dir) == Some(Role::Root))
    }

    /// Every kustomization `dir` pulls in, directly or through others, nearest first (breadth-first), with
    /// its distance.
    pub fn closure(&self, dir: &Path) -> Vec<(PathBuf, usize)> {
        let mut seen: BTreeSet<PathBuf> = BTreeSet::from([dir.to_path_buf()]);
        let mut out = Vec::new();
        let mut queue = VecDeque::from([(dir.to_path_buf(), 0usize)]);
        while let Some((d, distance)) = queue.pop_front() {
            for r in self.nodes.get(&d).into_iter().flat_map(|n| &n.references) {
                if seen.insert(r.clone()) {
                    out.push((r.clone(), distance + 1));
                    queue.push_back((r.clone(), distance + 1));
                }
            }
        }
        out
    }

    /// The nearest non-component kustomization that every one of `dirs` pulls in (their shared base), if any.
    pub fn shared_base(&self, dirs: &[&Path]) -> Option<PathBuf> {
        let mut closures = dirs.iter().map(|d| self.closure(d));
        let first = closures.next()?;
        let mut best: BTreeMap<PathBuf, usize> = first
            .into_iter()
            .filter(|(d, _)| self.role(d) != Some(Role::Component))
            .collect();
        for closure in closures {
            let here: BTreeMap<PathBuf, usize> = closure.into_iter().collect();
            best = best
                .into_iter()
                .filter_map(|(d, dist)| Some((d.clone(), dist.max(*here.get(&d)?))))
                .collect();
        }
        best.into_iter()
            .min_by(|(a, da), (b, db)| da.cmp(db).then_with(|| a.cmp(b)))
            .map(|(d, _)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let p = t.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        t
    }

    #[test]
    fn roles_edges_and_shared_bases() {
        let t = repo(&[
            (
                "deploy/bases/frontend/kustomization.yaml",
                "resources: [d.yaml]\n",
            ),
            (
                "deploy/bases/backend/kustomization.yaml",
                "resources: [d.yaml]\n",
            ),
            (
                "deploy/components/probes/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
            ),
            (
                "deploy/overlays/dev/kustomization.yaml",
                "resources: [../../bases/frontend, ../../bases/backend, ns.yaml]\ncomponents: [../../components/probes]\n",
            ),
            (
                "deploy/overlays/prod/kustomization.yml",
                "resources:\n- ../../bases/frontend/\n- ../../bases/backend\n- github.com/acme/x?ref=v1\n",
            ),
            (
                "other/kustomization.yaml",
                "resources: [../../../outside]\n",
            ),
            (".git/kustomization.yaml", "resources: []\n"),
        ]);
        let graph = Graph::build(&Reader::new(t.path(), 1 << 20));
        let dirs: Vec<String> = graph
            .nodes
            .keys()
            .map(|d| d.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            [
                "deploy/bases/backend",
                "deploy/bases/frontend",
                "deploy/components/probes",
                "deploy/overlays/dev",
                "deploy/overlays/prod",
                "other"
            ]
        );
        let role = |d: &str| graph.role(Path::new(d));
        assert_eq!(role("deploy/bases/frontend"), Some(Role::Base));
        assert_eq!(role("deploy/components/probes"), Some(Role::Component));
        assert_eq!(role("deploy/overlays/dev"), Some(Role::Root));
        assert_eq!(role("other"), Some(Role::Root));
        assert_eq!(
            graph.nodes[Path::new("deploy/overlays/prod")].remote,
            ["github.com/acme/x?ref=v1"]
        );
        // Both overlays pull both bases; neither base is nearer, so the first by path is named.
        let shared = graph.shared_base(&[
            Path::new("deploy/overlays/dev"),
            Path::new("deploy/overlays/prod"),
        ]);
        assert_eq!(shared.as_deref(), Some(Path::new("deploy/bases/backend")));
        assert!(graph.unreadable.is_empty(), "{:?}", graph.unreadable);
    }

    #[test]
    fn a_malformed_kustomization_is_a_node_with_a_reason() {
        let t = repo(&[("a/kustomization.yaml", "resources: [\n")]);
        let graph = Graph::build(&Reader::new(t.path(), 1 << 20));
        assert_eq!(graph.role(Path::new("a")), Some(Role::Root));
        assert_eq!(graph.unreadable.len(), 1);
    }
}
