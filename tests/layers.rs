//! The layer map of the book's design chapter, checked: no file of coro-core imports a layer
//! above its own. Reads the sources (paths written out as `crate::x`, outside comments and
//! the runtime's unit tests), as the chapter's grep does.

use std::fs;
use std::path::{Path, PathBuf};

/// The features: everything above the runtime, with the items of theirs that the crate root
/// re-exports (so that `crate::sleep` counts as much as `crate::time::sleep`).
const FEATURES: &[&str] = &[
    "time",
    "channel",
    "sync",
    "select",
    "net",
    "poll",
    "hooks",
    "blocking",
    "cancel",
    "debug",
    "sleep",
    "sleep_until",
    "timeout",
    "with_timeout",
    "with_deadline",
    "with_io_timeout",
    "shield",
    "spawn_blocking",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("coro-core/src")
}

fn rust_files(at: &Path, out: &mut Vec<PathBuf>) {
    if at.is_file() {
        out.push(at.to_path_buf());
        return;
    }
    for entry in fs::read_dir(at).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::NAME` (NAME one of `above`) written outside a comment in the files under
/// `paths`, as `file:line: text`.
fn upward(paths: &[&str], above: &[&str]) -> Vec<String> {
    let root = src();
    let mut files = Vec::new();
    for p in paths {
        rust_files(&root.join(p), &mut files);
    }
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        if rel.starts_with("runtime/tests") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for name in above {
                let pat = format!("crate::{name}");
                let mut rest = code;
                while let Some(i) = rest.find(&pat) {
                    let after = rest[i + pat.len()..].chars().next();
                    if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                    }
                    rest = &rest[i + pat.len()..];
                }
            }
        }
    }
    found
}

fn with(layers: &[&'static str]) -> Vec<&'static str> {
    layers.iter().chain(FEATURES).copied().collect()
}

#[test]
fn stacks_reach_up_to_nothing() {
    let above = with(&["coroutine", "local", "generator", "runtime"]);
    assert_eq!(upward(&["stack"], &above), Vec::<String>::new());
}

#[test]
fn coroutines_reach_up_to_nothing() {
    let above = with(&["local", "generator", "runtime"]);
    assert_eq!(upward(&["coroutine"], &above), Vec::<String>::new());
}

#[test]
fn co_local_and_generators_reach_up_to_nothing() {
    let above = with(&["runtime"]);
    assert_eq!(
        upward(&["local.rs", "generator.rs"], &above),
        Vec::<String>::new()
    );
}

#[test]
fn the_runtime_reaches_up_to_no_feature() {
    assert_eq!(upward(&["runtime"], FEATURES), Vec::<String>::new());
}

#[test]
fn the_check_sees_an_upward_import() {
    // The scan itself: this file's own lines are not under coro-core, so check that the
    // features are found where they are meant to be (the hooks use the runtime's parking).
    assert!(!upward(&["hooks"], &["runtime"]).is_empty());
}
