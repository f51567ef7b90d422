//! Integration tests of drydock-scenarios: one binary, one module per concern.

mod api;
mod expect;
mod invalid;
mod library;
mod robustness;
mod schema;
mod serving;
mod traces;

use std::path::PathBuf;

/// The crate's root directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests").join("fixtures").join(name)
}

/// The `*.yaml` files of a directory under the crate, sorted by name.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate_dir().join(dir))
        .expect("directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}
