//! The module structure stays one-way (DESIGN.md, "The flow"): no two top-level modules of `src/` depend on
//! each other through any path. The test reads every `crate::` reference in `src/` (comments left out) and
//! names each cycle it finds with the files behind every edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// Top-level module → the modules it references → the files that do.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn top_level_modules_depend_on_each_other_one_way_only() {
    let src = root().join("src");
    let graph = graph(&src);
    assert!(
        graph.len() > 10,
        "the scan found too few modules: {:?}",
        graph.keys()
    );
    let cycles = cycles(&graph);
    let report: Vec<String> = cycles
        .iter()
        .map(|(knot, cycle)| {
            let mut lines = vec![
                format!("modules in one knot: {}", knot.join(", ")),
                format!("one cycle: {} → {}", cycle.join(" → "), cycle[0]),
            ];
            for (i, from) in cycle.iter().enumerate() {
                let to = &cycle[(i + 1) % cycle.len()];
                let files: Vec<&str> = graph[from][to].iter().map(String::as_str).collect();
                lines.push(format!("  {from} → {to}: {}", files.join(", ")));
            }
            lines.join("\n")
        })
        .collect();
    assert!(report.is_empty(), "\n{}", report.join("\n"));
}

#[test]
fn the_scanner_sees_use_groups_paths_and_a_planted_cycle() {
    let refs = references(
        "use crate::{a::X, b::{self, Y}};\n// crate::commented\nfn f() { crate::c::go(); }\n/* crate::block */",
    );
    assert_eq!(
        refs,
        BTreeSet::from(["a".to_string(), "b".into(), "c".into()])
    );
    let mut g = Graph::new();
    for (from, to) in [("x", "y"), ("y", "z"), ("z", "x"), ("z", "w")] {
        g.entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default()
            .insert(format!("src/{from}.rs"));
    }
    g.entry("w".into()).or_default();
    let xyz = vec!["x".to_string(), "y".into(), "z".into()];
    assert_eq!(cycles(&g), vec![(xyz.clone(), xyz)]);
}

/// Every top-level module of `src/` with the top-level modules its files reference.
fn graph(src: &Path) -> Graph {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("read src").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            modules.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
        {
            modules.insert(stem.to_string());
        }
    }
    let mut graph = Graph::new();
    for module in &modules {
        graph.entry(module.clone()).or_default();
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            collect_rs(&dir, &mut files);
        } else {
            files.push(src.join(format!("{module}.rs")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            let rel = file
                .strip_prefix(src.parent().expect("root"))
                .unwrap_or(&file)
                .display()
                .to_string();
            for target in references(&text) {
                if &target != module && modules.contains(&target) {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(target)
                        .or_default()
                        .insert(rel.clone());
                }
            }
        }
    }
    graph
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first path segment after every `crate::` outside comments, including each item of a
/// `crate::{a, b::{c}}` group.
fn references(text: &str) -> BTreeSet<String> {
    let code = strip_comments(text);
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        // `some_crate::x` is another crate's path, not ours.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            let mut ident = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && item_start && (c.is_alphanumeric() || c == '_') {
                    ident.push(c);
                } else if !ident.is_empty() {
                    out.insert(std::mem::take(&mut ident));
                    item_start = false;
                }
                if depth == 1 && c == ',' {
                    item_start = true;
                }
            }
            if !ident.is_empty() {
                out.insert(ident);
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                out.insert(ident);
            }
        }
    }
    out
}

/// The text without `//` line comments and `/* */` block comments (doc links are not dependencies).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every strongly connected component with more than one module (Tarjan's algorithm), with one shortest
/// cycle through its first module to name.
fn cycles(graph: &Graph) -> Vec<(Vec<String>, Vec<String>)> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<&'g str>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flat_map(|e| e.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.components.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    let mut out: Vec<(Vec<String>, Vec<String>)> = t
        .components
        .iter()
        .map(|component| {
            // A shortest way back to the start, inside the component: one readable cycle to name.
            let members: BTreeSet<&str> = component.iter().copied().collect();
            let start = component[0];
            let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start]);
            let mut end = None;
            'search: while let Some(v) = queue.pop_front() {
                for w in graph[v].keys().map(String::as_str) {
                    if w == start {
                        end = Some(v);
                        break 'search;
                    }
                    if members.contains(w) && !previous.contains_key(w) && w != start {
                        previous.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut path = Vec::new();
            let mut at = end.unwrap_or(start);
            while at != start {
                path.push(at.to_string());
                at = previous[at];
            }
            path.push(start.to_string());
            path.reverse();
            (component.iter().map(|m| m.to_string()).collect(), path)
        })
        .collect();
    out.sort();
    out
}
