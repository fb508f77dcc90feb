//! The codemap of docs/ARCHITECTURE.md names files and folders that exist: a newcomer who
//! follows a row lands where it says.

use std::path::{Path, PathBuf};

/// The workspace root (this crate sits at `tests/axia-tidy`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The paths a cell names: backticked tokens that look like paths (a `/`, or a file name with
/// an extension). A bare file name is in the folder of the last path the cell named.
fn paths_in(cell: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut folder: Option<String> = None;
    for (i, token) in cell.split('`').enumerate() {
        if i % 2 == 0 || token.contains(' ') || token.contains("::") {
            continue;
        }
        let is_file = token.rsplit_once('.').is_some_and(|(name, ext)| {
            !name.is_empty()
                && matches!(
                    ext,
                    "rs" | "toml" | "md" | "sh" | "mjs" | "html" | "json" | "csv" | "py"
                )
        });
        if token.contains('/') && !token.starts_with('/') && !token.contains('{') {
            let path = token.trim_end_matches('/').to_owned();
            folder = Some(if is_file {
                path.rsplit_once('/')
                    .map_or(String::new(), |(d, _)| d.to_owned())
            } else {
                path.clone()
            });
            out.push(path);
        } else if is_file
            && !token.contains('/')
            && let Some(f) = &folder
        {
            out.push(format!("{f}/{token}"));
        }
    }
    out
}

#[test]
fn every_path_the_codemap_names_exists() {
    let root = root();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let codemap = doc
        .split("## Codemap")
        .nth(1)
        .expect("a Codemap section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut checked = 0;
    let mut missing = Vec::new();
    for row in codemap.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').collect();
        let Some(where_) = cells.get(2) else {
            continue;
        };
        for path in paths_in(where_) {
            checked += 1;
            if !root.join(&path).exists() {
                missing.push(format!(
                    "{path}  (row: {})",
                    cells.get(1).unwrap_or(&"").trim()
                ));
            }
        }
    }
    assert!(checked > 50, "the codemap names {checked} paths");
    assert!(
        missing.is_empty(),
        "the codemap names paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn bare_names_resolve_in_the_folder_of_the_path_before_them() {
    assert_eq!(
        paths_in("`infrastructure/axia-simbroker/src/source.rs`, `faults.rs` (`Faults`)"),
        [
            "infrastructure/axia-simbroker/src/source.rs",
            "infrastructure/axia-simbroker/src/faults.rs"
        ]
    );
    assert_eq!(paths_in("`tests/axia-consumer`"), ["tests/axia-consumer"]);
    assert!(paths_in("`OhlcvFrame::merge` and `{ns}ohlcv:{SYMBOL}`").is_empty());
}
