//! The layers of pbx-core, checked: a module may name (`crate::x`) only
//! modules of a lower layer, so dependencies point one way — the server
//! wiring at the top, then the configuration, the SIP entry, the
//! protocol and call cores, their building blocks, and the leaves that
//! import nothing of the crate. ARCHITECTURE.md draws the same picture.
//! Test code is exempt (it may build whatever it needs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    // leaves: shared vocabulary and self-contained services
    &[
        "sans_io",
        "metrics",
        "admin_token",
        "dialplan",
        "auth",
        "http_client",
        "media_anchor",
    ],
    // building blocks of the cores
    &["registrar", "trunks"],
    // the call engine (sans-IO)
    &["b2bua"],
    // what runs beside the engine and the entry: storage, routing, the proxy
    &["store", "routing", "proxy", "queues"],
    // the SIP entry (ingress); call recording (the recorder fed by the
    // engine's driver, state onto the records)
    &["sip", "recording", "webhooks"],
    // the configuration file, filled into the parts' own settings
    &["config"],
    // the HTTP API: routes over the engine's handle and the SIP core's counters
    &["api"],
    // the wiring: threads, tasks, listeners
    &["server"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names outside its test code.
fn named_modules(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if line.trim_start().starts_with("#[cfg(test)]") {
            // Everything after the first test attribute is test code or a
            // test module declaration (kept last in our files).
            break;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                for item in group.split('}').next().unwrap_or("").split(',') {
                    let m: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !m.is_empty() {
                        found.push((i + 1, m));
                    }
                }
            } else {
                let m: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push((i + 1, m));
            }
        }
    }
    found
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    let mut unknown = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            unknown.insert(top.clone(), rel.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("reading a source file");
        for (line, named) in named_modules(&text) {
            if named == top {
                continue;
            }
            match layer_of(&named) {
                Some(l) if l < own => {}
                Some(_) => violations.push(format!(
                    "{}:{line}: `{top}` (layer {own}) names `crate::{named}` of layer {}",
                    rel.display(),
                    layer_of(&named).unwrap_or(0)
                )),
                None => {
                    unknown.insert(named.clone(), format!("{}:{line}", rel.display()));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS (add them where they belong): {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "imports against the layers (a lower module must not name a higher one):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_grouped_and_plain_paths_and_skips_tests() {
    let text = "use crate::{sip, b2bua::Engine};\nfn f() { crate::store::x(); } // crate::server\n#[cfg(test)]\nmod tests { use crate::server; }\n";
    let found: Vec<String> = named_modules(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["sip", "b2bua", "store"]);
}
