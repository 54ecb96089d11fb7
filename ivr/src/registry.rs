//! The set of loaded flows, reloadable without disturbing calls.
//!
//! Calls hold an `Arc<Flow>` of the version they started with, so replacing
//! an entry here never changes a running call. A reload only replaces a flow
//! whose new version has no errors: an invalid file keeps the previous valid
//! version in service and the diagnostics are returned for the operator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{check_file, Diagnostic, Flow};

/// What a (re)load did with one file.
#[derive(Debug, Clone)]
pub struct ReloadReport {
    /// The file.
    pub path: PathBuf,
    /// Flow name, when the file loaded.
    pub flow: Option<String>,
    /// Whether the registry now serves this file's new version.
    pub applied: bool,
    /// Errors and warnings of the new version.
    pub diagnostics: Vec<Diagnostic>,
}

/// Flows by name.
#[derive(Debug, Clone, Default)]
pub struct FlowRegistry {
    flows: BTreeMap<String, Arc<Flow>>,
}

impl FlowRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current version of flow `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.flows.get(name).cloned()
    }

    /// Names of all flows.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    /// Loads (or reloads) one file; see the module docs for the rules.
    pub fn reload_file(&mut self, path: &Path) -> ReloadReport {
        let checked = check_file(path);
        let mut report = ReloadReport {
            path: path.to_path_buf(),
            flow: None,
            applied: false,
            diagnostics: checked.diagnostics,
        };
        if let Some(flow) = checked.flow {
            report.flow = Some(flow.name.clone());
            report.applied = true;
            self.flows.insert(flow.name.clone(), Arc::new(flow));
        }
        report
    }

    /// Loads every `*.toml` file of `dir` (sorted by name).
    pub fn reload_dir(&mut self, dir: &Path) -> std::io::Result<Vec<ReloadReport>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        Ok(files.iter().map(|f| self.reload_file(f)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_reload_keeps_running_version() {
        let dir = std::env::temp_dir().join(format!("ivr-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("f.toml");
        let v1 = "[flow]\nname = \"f\"\n[nodes.a]\ntype = \"hangup\"\nreason = \"v1\"\n";
        std::fs::write(&path, v1).expect("write");
        let mut reg = FlowRegistry::new();
        assert!(reg.reload_file(&path).applied);
        let running = reg.get("f").expect("loaded");

        std::fs::write(&path, "[flow]\nname = \"f\"\n[nodes.a]\ntype = \"nope\"\n").expect("write");
        let report = reg.reload_file(&path);
        assert!(!report.applied);
        assert_eq!(report.diagnostics[0].line, 4);
        assert!(Arc::ptr_eq(&running, &reg.get("f").expect("still served")));

        std::fs::write(&path, v1.replace("v1", "v2")).expect("write");
        assert!(reg.reload_file(&path).applied);
        let new = reg.get("f").expect("served");
        assert!(!Arc::ptr_eq(&running, &new));
        // The call that started on v1 still sees v1.
        assert!(
            matches!(&running.nodes[0].kind, crate::NodeKind::Hangup(h) if h.reason.as_deref() == Some("v1"))
        );
        assert_eq!(reg.names().collect::<Vec<_>>(), ["f"]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
