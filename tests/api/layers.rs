//! The layering rule of `docs/ARCHITECTURE.md`, read from the source itself: each top-level
//! folder of `src/` imports only from the folders below it, and no files, nor sibling folders at
//! any depth, import each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, highest first. A layer may import any layer after it, never one before it;
/// `governance` and `publishing` sit side by side and do not import each other.
const LAYERS: [&[&str]; 5] = [
    &["app"],
    &["governance", "publishing"],
    &["people"],
    &["care"],
    &["infra"],
];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|names| names.contains(&layer))
}

/// Every `.rs` file under `src/` as its module path (`care::chat::socket`), with its text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(root)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Vec<String> = relative
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).expect("read file");
                out.insert(parts.join("::"), text);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The modules each module names through `crate::…` (the longest known module path named),
/// `super::…` and `self::…` being resolved too. Test modules inside a file are left out.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, text) in modules {
        let code = text.split("#[cfg(test)]").next().unwrap_or(text);
        let mut targets = BTreeSet::new();
        let bytes = code.as_bytes();
        for (at, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            let mut base: Vec<&str> = Vec::new();
            if parts.first() == Some(&"super") {
                base = module.split("::").collect();
                // `super` of a file `a/b.rs` is `a`; of `a/b/mod.rs` (module `a::b`) also `a`.
                while parts.first() == Some(&"super") {
                    base.pop();
                    parts.remove(0);
                }
            } else {
                parts.remove(0);
            }
            base.extend(parts);
            while !base.is_empty() {
                let candidate = base.join("::");
                if modules.contains_key(&candidate) {
                    if &candidate != module && !module.starts_with(&format!("{candidate}::")) {
                        targets.insert(candidate);
                    }
                    break;
                }
                base.pop();
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut found = stack[start..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                Some(_) => {}
                None => {
                    if let Some(found) = visit(next, graph, state, stack) {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str())
            && let Some(found) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn layers_import_only_downward() {
    let modules = modules();
    let graph = imports(&modules);
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        let Some(from_layer) = from.split("::").next() else {
            continue;
        };
        for to in targets {
            let to_layer = to.split("::").next().unwrap_or_default();
            if from_layer == to_layer || from == "lib" || from == "main" {
                continue;
            }
            match (rank(from_layer), rank(to_layer)) {
                (Some(a), Some(b)) if a < b => {}
                _ => upward.push(format!("{from} -> {to}")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not run downward:\n{}",
        upward.join("\n")
    );
    let unknown: Vec<&String> = modules
        .keys()
        .filter(|m| !["lib", "main"].contains(&m.as_str()))
        .filter(|m| m.split("::").next().and_then(rank).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "modules outside every layer: {unknown:?}"
    );
}

#[test]
fn no_files_and_no_sibling_folders_import_each_other_in_a_circle() {
    let modules = modules();
    let graph = imports(&modules);
    if let Some(found) = circle(&graph) {
        panic!("files in a circle: {}", found.join(" -> "));
    }
    // Folders at every depth: collapse each module to its ancestor just under a common parent.
    let depth = modules
        .keys()
        .map(|m| m.split("::").count())
        .max()
        .unwrap_or(1);
    for level in 1..=depth {
        let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &graph {
            let head = |m: &str| m.split("::").take(level).collect::<Vec<_>>().join("::");
            let parent = |m: &str| m.split("::").take(level - 1).collect::<Vec<_>>().join("::");
            for to in targets {
                let long_enough = |m: &str| m.split("::").count() >= level;
                if !long_enough(from) || !long_enough(to) {
                    continue;
                }
                let (a, b) = (head(from), head(to));
                if a != b && parent(from) == parent(to) {
                    folders.entry(a).or_default().insert(b);
                }
            }
        }
        if let Some(found) = circle(&folders) {
            panic!(
                "folders in a circle at depth {level}: {}",
                found.join(" -> ")
            );
        }
    }
}
