//! Layering: domain does no I/O, application knows only ports, folders name their crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Packages that do I/O or bring a runtime, refused anywhere in a domain crate's tree.
fn is_io_package(name: &str) -> bool {
    matches!(name, "tokio" | "redis" | "reqwest" | "hyper" | "mio")
        || name.starts_with("aws-")
        || name == "polars"
        || name.starts_with("polars-")
}

/// A dependency edge: the dependency's id and its kinds (None = normal, "dev", "build").
type Edge = (String, Vec<Option<String>>);

struct Workspace {
    root: PathBuf,
    /// package id -> (name, manifest path)
    packages: BTreeMap<String, (String, PathBuf)>,
    /// package id -> [(dependency id, kinds: None = normal, Some("dev"), Some("build"))]
    deps: BTreeMap<String, Vec<Edge>>,
    members: BTreeSet<String>,
}

impl Workspace {
    fn load() -> Self {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .unwrap();
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(&root)
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        let packages = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    (
                        p["name"].as_str().unwrap().to_owned(),
                        PathBuf::from(p["manifest_path"].as_str().unwrap()),
                    ),
                )
            })
            .collect();
        let deps = meta["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let ds = n["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let kinds = d["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|k| k["kind"].as_str().map(str::to_owned))
                            .collect();
                        (d["pkg"].as_str().unwrap().to_owned(), kinds)
                    })
                    .collect();
                (n["id"].as_str().unwrap().to_owned(), ds)
            })
            .collect();
        let members = meta["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        Self {
            root,
            packages,
            deps,
            members,
        }
    }

    fn name(&self, id: &str) -> &str {
        &self.packages[id].0
    }

    /// The layer folder a member lives in (`domain`, `application`, …).
    fn layer(&self, id: &str) -> String {
        let dir = self.packages[id].1.parent().unwrap();
        let rel = dir.strip_prefix(&self.root).unwrap();
        rel.components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned()
    }

    fn members_in(&self, layer: &str) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| self.layer(m) == layer)
            .cloned()
            .collect()
    }

    /// Every package reachable from `id` through dependencies of the given kinds.
    fn closure(&self, id: &str, include_dev: bool) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_owned()];
        let mut first = true;
        while let Some(cur) = stack.pop() {
            for (dep, kinds) in self.deps.get(&cur).into_iter().flatten() {
                // Dev-dependencies count only for the starting crate: a dependency's own
                // dev-dependencies are never built into it.
                let follows = kinds
                    .iter()
                    .any(|k| k.as_deref() != Some("dev") || (include_dev && first));
                if follows && seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
            first = false;
        }
        seen
    }
}

#[test]
fn domain_has_no_io_in_its_dependency_tree() {
    let ws = Workspace::load();
    let domain = ws.members_in("domain");
    assert!(
        !domain.is_empty(),
        "no domain crate found: the check would be vacuous"
    );
    for id in &domain {
        // Dev-dependencies included: even the domain's tests run without a runtime.
        let bad: Vec<_> = ws
            .closure(id, true)
            .iter()
            .map(|d| ws.name(d).to_owned())
            .filter(|n| is_io_package(n))
            .collect();
        assert!(bad.is_empty(), "{} depends on {bad:?}", ws.name(id));
    }
}

#[test]
fn layers_depend_only_inward() {
    let ws = Workspace::load();
    // Which layers each layer may use, among workspace members.
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("domain", &["domain"][..]),
        ("application", &["domain", "application"][..]),
        ("infrastructure", &["domain", "infrastructure"][..]),
        (
            "presentation",
            // Binaries' end-to-end tests use the test kit's fakes (a fake Yahoo server).
            &[
                "domain",
                "application",
                "infrastructure",
                "presentation",
                "tests",
            ][..],
        ),
        (
            "tests",
            &[
                "domain",
                "application",
                "infrastructure",
                "presentation",
                "tests",
            ][..],
        ),
    ]);
    let mut checked = 0;
    for id in &ws.members {
        let layer = ws.layer(id);
        let ok = allowed
            .get(layer.as_str())
            .unwrap_or_else(|| panic!("{} is in unknown layer {layer}", ws.name(id)));
        for dep in ws.closure(id, true) {
            if ws.members.contains(&dep) {
                let dep_layer = ws.layer(&dep);
                assert!(
                    ok.contains(&dep_layer.as_str()),
                    "{} ({layer}) depends on {} ({dep_layer})",
                    ws.name(id),
                    ws.name(&dep)
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no dependency between members was checked");
}

#[test]
fn closure_follows_transitive_normal_dependencies() {
    // The check above is only as good as the closure: axia-aws reaches tokio through aws-config.
    let ws = Workspace::load();
    let aws = ws
        .members
        .iter()
        .find(|m| ws.name(m) == "axia-aws")
        .expect("axia-aws is a member");
    let names: BTreeSet<_> = ws
        .closure(aws, false)
        .iter()
        .map(|d| ws.name(d).to_owned())
        .collect();
    assert!(
        names.contains("tokio"),
        "transitive dependency not followed"
    );
    assert!(
        !ws.deps[aws].iter().any(|(d, _)| ws.name(d) == "tokio"),
        "tokio is expected to be indirect"
    );
}

#[test]
fn crates_sit_one_level_inside_their_layer_named_like_their_folder() {
    let ws = Workspace::load();
    for id in &ws.members {
        let (name, manifest) = &ws.packages[id];
        let dir = manifest.parent().unwrap();
        let rel = dir.strip_prefix(&ws.root).unwrap();
        let parts: Vec<_> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            parts.len(),
            2,
            "{name} is at {rel:?}, expected <layer>/<crate>"
        );
        assert_eq!(
            &parts[1], name,
            "folder {rel:?} does not name its crate {name}"
        );
        // The facade is the one crate named just `axia`; it is the front door, so it sits with
        // the other entry points in presentation/.
        assert!(
            name.starts_with("axia-") || (name == "axia" && parts[0] == "presentation"),
            "{name} lacks the axia- prefix"
        );
        let toml = std::fs::read_to_string(manifest).unwrap();
        assert!(
            toml.contains("[lints]\nworkspace = true"),
            "{name} does not take the workspace lints"
        );
    }
}
