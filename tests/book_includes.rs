//! The book never shows code that does not exist: every `{{#include PATH[:anchor]}}` in
//! `book/src/*.md` points at an existing file (and, when an anchor is named, at a file that has
//! `ANCHOR: name`), and every chapter that `SUMMARY.md` lists exists.
//!
//! `book/check-includes.sh` enforces the same rules inside `mdbook build`, which on its own only
//! logs a broken include; the last test here runs that script on a scratch book.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn book_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book")
}

/// One `{{#include ...}}` (or `{{#rustdoc_include ...}}`) found in a chapter.
#[derive(Debug, PartialEq)]
struct Include {
    /// The text between `include` and `}}`, e.g. `../../examples/x.rs:setup`.
    spec: String,
    /// The path, relative to the chapter's directory.
    path: String,
    /// The anchor name, when the part after the first `:` is a name and not a line range.
    anchor: Option<String>,
}

/// Finds every include in a chapter's text, skipping escaped ones (`\{{#include ..}}`), which
/// mdBook prints literally.
fn parse_includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find("{{#") {
        let start = offset + at;
        let after = &text[start + 3..];
        let escaped = start > 0 && text.as_bytes()[start - 1] == b'\\';
        let body = after
            .strip_prefix("include")
            .or_else(|| after.strip_prefix("rustdoc_include"));
        let Some(body) = body else {
            offset = start + 3;
            rest = &text[offset..];
            continue;
        };
        let Some(end) = body.find("}}") else { break };
        let spec = body[..end].trim();
        if !escaped && body.starts_with(char::is_whitespace) && !spec.is_empty() {
            let (path, tail) = match spec.split_once(':') {
                Some((path, tail)) => (path, Some(tail)),
                None => (spec, None),
            };
            // `file:name` names an anchor; `file:10`, `file:10:20` and `file::20` are lines.
            let anchor = tail
                .filter(|t| {
                    !t.is_empty()
                        && !t.starts_with(|c: char| c.is_ascii_digit())
                        && t.chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                })
                .map(str::to_owned);
            found.push(Include {
                spec: spec.to_owned(),
                path: path.to_owned(),
                anchor,
            });
        }
        offset = start + 3;
        rest = &text[offset..];
    }
    found
}

/// True when `source` has an `ANCHOR: name` marker (as mdBook matches it: the name is followed
/// by something that cannot be part of a name).
fn has_anchor(source: &str, name: &str) -> bool {
    source.match_indices("ANCHOR:").any(|(at, m)| {
        let after = source[at + m.len()..].trim_start();
        after.strip_prefix(name).is_some_and(|tail| {
            !tail
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
        })
    })
}

/// The `.md` files that `SUMMARY.md` links to, in order.
fn summary_chapters(summary: &str) -> Vec<String> {
    let mut chapters = Vec::new();
    for line in summary.lines() {
        let mut rest = line;
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let Some(close) = after.find(')') else { break };
            let target = after[..close].trim();
            if target.ends_with(".md") {
                chapters.push(target.to_owned());
            }
            rest = &after[close + 1..];
        }
    }
    chapters
}

fn chapters_on_disk() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(book_dir().join("src"))
        .expect("book/src exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_include_points_at_an_existing_file_and_anchor() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for chapter in chapters_on_disk() {
        let text = fs::read_to_string(&chapter).expect("chapter is UTF-8");
        let dir = chapter.parent().expect("chapter has a directory");
        for include in parse_includes(&text) {
            checked += 1;
            let target = dir.join(&include.path);
            let Ok(source) = fs::read_to_string(&target) else {
                problems.push(format!(
                    "{}: `{}`: no file {}",
                    chapter.display(),
                    include.spec,
                    target.display()
                ));
                continue;
            };
            if let Some(anchor) = &include.anchor
                && !has_anchor(&source, anchor)
            {
                problems.push(format!(
                    "{}: `{}`: {} has no `ANCHOR: {anchor}`",
                    chapter.display(),
                    include.spec,
                    target.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
    assert!(
        checked > 0,
        "the book includes no code at all; the scan is broken"
    );
}

#[test]
fn every_chapter_in_summary_exists() {
    let src = book_dir().join("src");
    let summary = fs::read_to_string(src.join("SUMMARY.md")).expect("book/src/SUMMARY.md");
    let chapters = summary_chapters(&summary);
    assert!(
        chapters.len() >= CHAPTERS.len(),
        "SUMMARY.md lists {} chapters, the book has {}",
        chapters.len(),
        CHAPTERS.len()
    );
    let missing: Vec<&String> = chapters.iter().filter(|c| !src.join(c).is_file()).collect();
    assert!(
        missing.is_empty(),
        "chapters listed in SUMMARY.md but missing: {missing:?}"
    );
}

/// The book's table of contents, in a learner's order: what most programs use first, what sits
/// under it later. Other pages may sit between them.
const CHAPTERS: [&str; 19] = [
    "introduction.md",
    "quick-start.md",
    "go-and-coroutine.md",
    "event-loop.md",
    "cancellation.md",
    "networking.md",
    "synchronization.md",
    "hooks.md",
    "co-local.md",
    "generators.md",
    "coroutines-by-hand.md",
    "stacks.md",
    "multi-core.md",
    "debugging.md",
    "performance.md",
    "how-the-switch-works.md",
    "safety.md",
    "coming-from.md",
    "faq.md",
];

#[test]
fn summary_lists_the_table_of_contents_in_order() {
    let summary = fs::read_to_string(book_dir().join("src/SUMMARY.md")).expect("SUMMARY.md");
    let listed = summary_chapters(&summary);
    let mut from = 0;
    let mut previous = "the start";
    for chapter in CHAPTERS {
        let Some(at) = listed[from..].iter().position(|c| c == chapter) else {
            panic!("SUMMARY.md must list {chapter}, after {previous}; it lists {listed:?}");
        };
        from += at + 1;
        previous = chapter;
    }
}

#[test]
fn parser_reads_paths_anchors_ranges_and_escapes() {
    let text = "a {{#include ../x.rs:setup}} b {{#include y.rs}} \\{{#include z.rs:no}} \
                {{#include w.rs:10:20}} {{#rustdoc_include v.rs:main-loop}} {{#title T}}";
    let got = parse_includes(text);
    let summary: Vec<(&str, Option<&str>)> = got
        .iter()
        .map(|i| (i.path.as_str(), i.anchor.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("../x.rs", Some("setup")),
            ("y.rs", None),
            ("w.rs", None),
            ("v.rs", Some("main-loop")),
        ]
    );
    assert!(has_anchor(
        "// ANCHOR: setup\nfn f() {}\n// ANCHOR_END: setup\n",
        "setup"
    ));
    assert!(!has_anchor("// ANCHOR: setup_more\n", "setup"));
    assert!(!has_anchor("// ANCHOR_END: setup\n", "setup"));
    assert_eq!(
        summary_chapters("[Intro](introduction.md)\n- [A](a.md)\n  - [B [x]](b.md) [C](c.md)\n"),
        vec!["introduction.md", "a.md", "b.md", "c.md"]
    );
}

/// Runs `book/check-includes.sh` as mdBook would, on a scratch book whose only chapter
/// includes `include`; returns whether it succeeded and what it printed on stdout.
fn run_preprocessor(include: &str) -> (bool, String) {
    let root = std::env::temp_dir().join(format!(
        "coro-book-check-{}-{}",
        std::process::id(),
        include.len()
    ));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("src")).expect("scratch book");
    fs::write(
        root.join("code.rs"),
        "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n",
    )
    .expect("scratch source");
    fs::write(
        root.join("src/chapter.md"),
        format!("# C\n\n{{{{#include {include}}}}}\n"),
    )
    .expect("scratch chapter");
    let book = r#"{"items":[],"__non_exhaustive":null}"#;
    let input = format!(r#"[{{"root":"{}","config":{{}}}},{book}]"#, root.display());
    let mut child = Command::new("sh")
        .arg(book_dir().join("check-includes.sh"))
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the book");
    let out = child.wait_with_output().expect("preprocessor finishes");
    let _ = fs::remove_dir_all(&root);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

#[test]
fn mdbook_preprocessor_fails_on_a_broken_include_and_passes_the_book_through() {
    let (ok, stdout) = run_preprocessor("../code.rs:here");
    assert!(ok, "a good include must pass");
    assert_eq!(stdout, r#"{"items":[],"__non_exhaustive":null}"#);
    let (ok, _) = run_preprocessor("../missing.rs");
    assert!(!ok, "a missing file must fail the build");
    let (ok, _) = run_preprocessor("../code.rs:nowhere");
    assert!(!ok, "a missing anchor must fail the build");
}
