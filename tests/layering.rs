//! The layering rule of ARCHITECTURE.md, checked on the source text.
//!
//! Dependencies point down: `media` never imports `sip`, `rtmp`, `call`,
//! `auth` or `runtime`; `rtmp` never imports `sip`, `call`, `auth`, `media`
//! or `runtime`; `sip` never imports `rtmp`, `call`, `auth` or `runtime`;
//! `call` never imports the async SIP drivers (`sip::ua`, `sip::incoming`,
//! `sip::registration::driver`) nor `runtime`, and never uses the `tokio`
//! or `rsipstack` crates (`sip::request_uri` builds the rsipstack `Uri` of a `DialUri`); `amf`, `time`, `addr` and `tls` are
//! leaves; the `codecs` crate never
//! imports the main crate (`rtmp2sip`). The scan reads every `.rs` file
//! under `src/<module>/` (and `src/<module>.rs`), drops comments, and looks
//! for `crate::<name>` paths, including names inside `use crate::{...}`
//! groups. A violation names the file and line.
//!
//! `RTMP2SIP_LAYERING_ROOT` points the scan at another checkout (used to
//! show the check fails on a tree that breaks the rule).

use std::fs;
use std::path::{Path, PathBuf};

/// One rule: files of `module` must not reference any of `forbidden`
/// (paths below `crate::`, e.g. `"sip"` or `"sip::ua"`).
struct Rule {
    module: &'static str,
    forbidden: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        module: "media",
        forbidden: &["sip", "rtmp", "call", "auth", "runtime"],
    },
    Rule {
        module: "rtmp",
        forbidden: &["sip", "call", "auth", "media", "runtime"],
    },
    Rule {
        module: "sip",
        forbidden: &["rtmp", "call", "auth", "runtime"],
    },
    Rule {
        module: "call",
        forbidden: &[
            "sip::ua",
            "sip::incoming",
            "sip::registration::driver",
            "runtime",
        ],
    },
    Rule {
        module: "time",
        forbidden: &[
            "amf", "auth", "call", "config", "flv", "media", "rtmp", "runtime", "sip",
        ],
    },
    Rule {
        module: "addr",
        forbidden: &[
            "amf", "auth", "call", "config", "flv", "media", "rtmp", "runtime", "sip", "time",
        ],
    },
    Rule {
        module: "tls",
        forbidden: &[
            "addr", "amf", "auth", "call", "config", "flv", "media", "rtmp", "runtime", "sip",
            "time",
        ],
    },
    Rule {
        module: "amf",
        forbidden: &["rtmp", "sip", "call", "auth", "media", "runtime"],
    },
];

fn root() -> PathBuf {
    std::env::var_os("RTMP2SIP_LAYERING_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The files of one module: `src/<m>/**/*.rs` and `src/<m>.rs`.
fn module_files(root: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&root.join("src").join(module), &mut files);
    let single = root.join("src").join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    files
}

/// The source with comments blanked (line structure kept): `//...` to the
/// end of the line and `/* ... */` blocks (nested). String literals are
/// kept as they are, so a `"//"` inside a string only hides the rest of its
/// line, which cannot hide an import.
fn strip_comments(src: &str) -> String {
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut depth = 0usize;
    while i < bytes.len() {
        let two = &bytes[i..(i + 2).min(bytes.len())];
        if depth > 0 {
            if two == b"*/" {
                depth -= 1;
                i += 2;
            } else if two == b"/*" {
                depth += 1;
                i += 2;
            } else {
                if bytes[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
        } else if two == b"/*" {
            depth = 1;
            i += 2;
        } else if two == b"//" {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The `crate::` paths referenced on one line: `crate::a::b` gives
/// `"a::b"`; `crate::{a::b, c}` gives `"a::b"` and `"c"`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(pos) = rest.find("crate::") {
        // Skip identifiers that merely end in "crate" (e.g. `my_crate::`).
        let before = rest[..pos].chars().last();
        rest = &rest[pos + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                found.push(path_prefix(item.trim()));
            }
        } else {
            found.push(path_prefix(rest));
        }
    }
    found.retain(|p| !p.is_empty());
    found
}

/// The leading `a::b::c` path of `s` (identifiers and `::` only).
fn path_prefix(s: &str) -> String {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    s[..end].trim_end_matches(':').to_string()
}

/// Whether `path` is `forbidden` or below it (`sip::ua::X` is below
/// `sip::ua`; `sip::ua_x` is not).
fn is_below(path: &str, forbidden: &str) -> bool {
    path == forbidden
        || path
            .strip_prefix(forbidden)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// Violations of `forbidden` in `text` (a file's source), as
/// `file:line: imports crate::path`.
fn violations(file: &Path, text: &str, forbidden: &[&str], module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in strip_comments(text).lines().enumerate() {
        for path in crate_paths(line) {
            if let Some(rule) = forbidden.iter().find(|f| is_below(&path, f)) {
                out.push(format!(
                    "{}:{}: `{module}` must not import `crate::{rule}` (found `crate::{path}`)",
                    file.display(),
                    n + 1
                ));
            }
        }
    }
    out
}

#[test]
fn modules_import_only_downward() {
    let root = root();
    let mut all = Vec::new();
    for rule in RULES {
        let files = module_files(&root, rule.module);
        assert!(
            !files.is_empty(),
            "no sources found for src/{}",
            rule.module
        );
        for file in files {
            let text = fs::read_to_string(&file).unwrap_or_default();
            let rel = file.strip_prefix(&root).unwrap_or(&file);
            all.extend(violations(rel, &text, rule.forbidden, rule.module));
        }
    }
    assert!(
        all.is_empty(),
        "layering violations (see ARCHITECTURE.md, Layers):\n{}",
        all.join("\n")
    );
}

/// External crates a module's files must not name: the sans-IO call plane
/// never touches tokio (tasks, timers, channels) or rsipstack (the SIP
/// stack), except the files listed as allowed.
struct CrateRule {
    module: &'static str,
    forbidden: &'static [&'static str],
    /// Files (relative to the root) allowed to name them, with the reason
    /// in ARCHITECTURE.md.
    allowed_files: &'static [&'static str],
}

const CRATE_RULES: &[CrateRule] = &[CrateRule {
    module: "call",
    forbidden: &["tokio", "rsipstack"],
    // None: `DialUri` holds plain parts; `sip::request_uri` builds the
    // rsipstack `Uri` from them.
    allowed_files: &[],
}];

/// Lines of `text` naming crate `name` as a path (`name::`, `use name`,
/// `extern crate name`), outside comments.
fn crate_mentions(file: &Path, text: &str, name: &str, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in strip_comments(text).lines().enumerate() {
        let mut rest = line;
        let mut hit = false;
        while let Some(pos) = rest.find(name) {
            let before = rest[..pos].chars().last();
            let after = &rest[pos + name.len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let t = after.trim_start();
            if after.starts_with("::") || t.starts_with(';') || t.starts_with("::{") {
                hit = true;
            }
        }
        if hit {
            out.push(format!(
                "{}:{}: `{module}` must not use the `{name}` crate",
                file.display(),
                n + 1
            ));
        }
    }
    out
}

#[test]
fn sans_io_modules_use_no_runtime_crates() {
    let root = root();
    let mut all = Vec::new();
    for rule in CRATE_RULES {
        let files = module_files(&root, rule.module);
        assert!(
            !files.is_empty(),
            "no sources found for src/{}",
            rule.module
        );
        for file in files {
            let rel = file.strip_prefix(&root).unwrap_or(&file);
            if rule.allowed_files.iter().any(|a| Path::new(a) == rel) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap_or_default();
            for name in rule.forbidden {
                all.extend(crate_mentions(rel, &text, name, rule.module));
            }
        }
    }
    assert!(
        all.is_empty(),
        "layering violations (see ARCHITECTURE.md, Layering):\n{}",
        all.join("\n")
    );
}

#[test]
fn crate_scanner_sees_paths_but_not_lookalikes() {
    let src = "use tokio::sync::mpsc;\nlet x = my_tokio::f();\n// tokio::spawn\nuse rsipstack;\nlet y = \"tokio\";\n";
    let t = crate_mentions(Path::new("f.rs"), src, "tokio", "call");
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(t[0].starts_with("f.rs:1:"), "{t:?}");
    let r = crate_mentions(Path::new("f.rs"), src, "rsipstack", "call");
    assert_eq!(r.len(), 1, "{r:?}");
}

#[test]
fn codecs_crate_does_not_import_the_gateway() {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("codecs").join("src"), &mut files);
    assert!(!files.is_empty(), "no sources found for codecs/src");
    let mut all = Vec::new();
    for file in files {
        let text = strip_comments(&fs::read_to_string(&file).unwrap_or_default());
        for (n, line) in text.lines().enumerate() {
            if line.contains("rtmp2sip::") || line.contains("extern crate rtmp2sip") {
                let rel = file.strip_prefix(&root).unwrap_or(&file);
                all.push(format!(
                    "{}:{}: the codecs crate must not import the gateway crate `rtmp2sip`",
                    rel.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(all.is_empty(), "layering violations:\n{}", all.join("\n"));
}

#[test]
fn scanner_sees_grouped_and_plain_paths_but_not_comments() {
    let src = "use crate::{sip::sdp::Codec, flv};\n// use crate::sip::ua;\nlet x = crate::rtmp::Foo; /* crate::call */\nuse my_crate::sip;\n";
    let v = violations(Path::new("f.rs"), src, &["sip", "rtmp", "call"], "media");
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].starts_with("f.rs:1:"), "{v:?}");
    assert!(v[1].starts_with("f.rs:3:"), "{v:?}");
    assert!(is_below("sip::ua::SipEvent", "sip::ua"));
    assert!(!is_below("sip::uax", "sip::ua"));
}
