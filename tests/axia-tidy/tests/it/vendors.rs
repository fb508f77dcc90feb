//! The domain knows no vendor: what Yahoo or OANDA call an instrument, and how to talk HTTP to
//! them, belong to their adapters. Doc comments may name them (axia's symbol conventions follow
//! Yahoo's); code may not.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_domain_names_no_vendor_in_its_code() {
    let domain = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../domain");
    let mut files = Vec::new();
    rust_files(&domain, &mut files);
    assert!(files.len() > 20, "the domain's sources: {}", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line
                .split("//")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if ["yahoo", "oanda"].iter().any(|v| code.contains(v)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "vendor names in the domain's code:\n{}",
        found.join("\n")
    );
}

/// The code lines of `file` (comments and doc comments dropped), lowercased.
fn code_lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| {
            l.split("//")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .collect()
}

#[test]
fn outside_their_crates_sources_are_named_in_one_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for layer in ["application", "presentation"] {
        rust_files(&root.join(layer), &mut files);
    }
    assert!(files.len() > 40, "the sources: {}", files.len());
    let mut naming: Vec<String> = files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        .filter(|f| {
            code_lines(f)
                .iter()
                .any(|l| l.contains("yahoo") || l.contains("oanda"))
        })
        .map(|f| {
            f.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    naming.sort();
    // The registration table; the order executors (a vendor's executor is not a source);
    // the settings (`ExecutorKind::Oanda`, the `--yahoo-url` shortcut, their tests); the
    // facade's per-feature re-exports. A new file here is a decision about a vendor made
    // outside its adapter and its table entry.
    assert_eq!(
        naming,
        [
            "presentation/axia-config/src/orders.rs",
            "presentation/axia-config/src/settings.rs",
            "presentation/axia-config/src/sources.rs",
            "presentation/axia/src/lib.rs",
        ],
        "files outside the adapter crates whose code names a vendor"
    );
    // The composition root builds sources through the table only.
    let wiring = root.join("presentation/axia-config/src/wiring.rs");
    let named = code_lines(&wiring)
        .iter()
        .filter(|l| {
            ["yahoo", "oanda", "simbroker", "simulated"]
                .iter()
                .any(|v| l.contains(v))
        })
        .count();
    assert_eq!(named, 0, "wiring.rs names a source in its code");
    // One entry per source in the table.
    let table =
        std::fs::read_to_string(root.join("presentation/axia-config/src/sources.rs")).unwrap();
    assert_eq!(table.matches("    Registered {\n        name:").count(), 3);
}
