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
