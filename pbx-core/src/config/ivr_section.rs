//! `[ivr]`: where the flow files are and how long trajectories are kept;
//! every `type = "ivr"` dial-plan route must name a valid flow there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Positioner, RawConfig};

/// `[ivr]`: IVR flows of `type = "ivr"` dial-plan routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// Directory of flow files (`*.toml`), relative to the config file;
    /// None: no IVR (routes to a flow are a config error).
    pub flows_dir: Option<PathBuf>,
    /// How long call trajectories are kept (SPEC §5: 15 days).
    pub trajectory_retention: Duration,
    /// Extra CA certificates (PEM) trusted by https http nodes besides the
    /// Mozilla roots (`http_ca_file`, relative to the config file).
    pub http_ca_file: Option<PathBuf>,
}

impl Default for IvrConfig {
    fn default() -> Self {
        Self {
            flows_dir: None,
            trajectory_retention: ivr::trajectory::DEFAULT_RETENTION,
            http_ca_file: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIvr {
    pub(super) flows_dir: Option<Spanned<String>>,
    pub(super) trajectory_retention_days: Option<Spanned<u32>>,
    pub(super) http_ca_file: Option<Spanned<String>>,
}

/// How much of `[ivr] flows_dir` a config load checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlowCheck {
    /// The directory must be readable and every flow a route names valid.
    Strict,
    /// As `Strict`, but a missing directory is accepted (the embedded default).
    MissingDirOk,
    /// Neither (admin commands talking to a running server).
    Skip,
}

/// `[ivr]`, and the flows named by `type = "ivr"` routes: each must be a
/// valid flow of `flows_dir` (unless `check` says otherwise).
pub(super) fn build_ivr(
    raw: &RawConfig,
    pos: &Positioner<'_>,
    base: &Path,
    check: FlowCheck,
) -> Result<IvrConfig, ConfigError> {
    let mut config = IvrConfig::default();
    if let Some(days) = &raw.ivr.trajectory_retention_days {
        if *days.get_ref() == 0 {
            return Err(pos.at(days, "ivr.trajectory_retention_days must be at least 1"));
        }
        config.trajectory_retention = Duration::from_secs(u64::from(*days.get_ref()) * 86_400);
    }
    if let Some(file) = &raw.ivr.http_ca_file {
        let path = base.join(file.get_ref());
        if let Err(e) = crate::http_client::read_ca_file(&path) {
            return Err(pos.at(file, format!("ivr.http_ca_file: {e}")));
        }
        config.http_ca_file = Some(path);
    }
    let routes: Vec<(&str, usize)> = raw.dialplan.iter().filter_map(|e| e.ivr_flow()).collect();
    let Some(dir) = &raw.ivr.flows_dir else {
        return match routes.first() {
            Some((_, offset)) => Err(pos.error(
                *offset,
                "type = \"ivr\" routes need `[ivr] flows_dir` (the directory of flow files)",
            )),
            None => Ok(config),
        };
    };
    let path = base.join(dir.get_ref());
    config.flows_dir = Some(path.clone());
    if check == FlowCheck::Skip {
        return Ok(config);
    }
    let mut flows = ivr::FlowRegistry::new();
    match flows.reload_dir(&path) {
        Ok(_) => {}
        Err(_) if check == FlowCheck::MissingDirOk => return Ok(config),
        Err(e) => return Err(pos.at(dir, format!("ivr.flows_dir {}: {e}", path.display()))),
    }
    for (flow, offset) in routes {
        if flows.get(flow).is_none() {
            let known: Vec<&str> = flows.names().collect();
            return Err(pos.error(
                offset,
                format!(
                    "flow `{flow}` is not a valid flow of {} (valid flows: {}; `pbx ivr validate {}` shows why)",
                    path.display(),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") },
                    path.display()
                ),
            ));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::time::Duration;

    const FLOW: &str = "[flow]\nname = \"hello\"\n[nodes.bye]\ntype = \"hangup\"\n";

    fn dir_with_flow() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.toml"), FLOW).unwrap();
        std::fs::write(
            dir.path().join("broken.toml"),
            "[nodes.x]\ntype = \"nope\"\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn ivr_routes_need_a_flows_dir() {
        let text = "[[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"main\"\n";
        let err = Config::from_str_named(text, "x.toml").unwrap_err();
        assert_eq!((err.line, err.column), (3, 8), "{err}");
        assert!(err.message.contains("flows_dir"), "{err}");
    }

    #[test]
    fn ivr_routes_name_valid_flows() {
        let dir = dir_with_flow();
        let path = dir.path().join("pbx.toml");
        let route = |flow: &str| {
            format!(
                "[ivr]\nflows_dir = \".\"\ntrajectory_retention_days = 3\n\
                 [[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"{flow}\"\n"
            )
        };
        std::fs::write(&path, route("hello")).unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(
            c.ivr.flows_dir.as_deref(),
            Some(dir.path().join(".").as_path())
        );
        assert_eq!(c.ivr.trajectory_retention, Duration::from_secs(3 * 86_400));

        for bad in ["broken", "missing"] {
            std::fs::write(&path, route(bad)).unwrap();
            let err = Config::from_file(&path).unwrap_err();
            assert_eq!((err.line, err.column), (6, 8), "{err}");
            assert!(err.message.contains(&format!("flow `{bad}`")), "{err}");
            assert!(err.message.contains("valid flows: hello"), "{err}");
        }
        let err = Config::from_str_named("[ivr]\nflows_dir = \"/nonexistent/flows\"\n", "x.toml")
            .unwrap_err();
        assert_eq!((err.line, err.column), (2, 13), "{err}");
        let err =
            Config::from_str_named("[ivr]\ntrajectory_retention_days = 0\n", "x.toml").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn http_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pbx.toml");
        std::fs::write(dir.path().join("bad.pem"), "not a certificate\n").unwrap();
        std::fs::write(&path, "[ivr]\nhttp_ca_file = \"bad.pem\"\n").unwrap();
        let err = Config::from_file(&path).unwrap_err();
        assert_eq!((err.line, err.column), (2, 16), "{err}");
        assert!(err.message.contains("no PEM certificate"), "{err}");
        std::fs::write(&path, "[ivr]\nhttp_ca_file = \"missing.pem\"\n").unwrap();
        let err = Config::from_file(&path).unwrap_err();
        assert_eq!((err.line, err.column), (2, 16), "{err}");

        let (cert, _) = {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let key = rcgen::KeyPair::generate().unwrap();
            (params.self_signed(&key).unwrap(), key)
        };
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        std::fs::write(&path, "[ivr]\nhttp_ca_file = \"ca.pem\"\n").unwrap();
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.ivr.http_ca_file, Some(dir.path().join("ca.pem")));
    }

    #[test]
    fn embedded_default_routes_500_to_the_example_flow() {
        let c = Config::embedded();
        assert!(c
            .ivr
            .flows_dir
            .as_ref()
            .is_some_and(|d| d.join("main.toml").exists()));
        assert_eq!(
            c.dialplan.route("500", 0),
            Some(crate::dialplan::Route::Ivr("main".into()))
        );
    }

    #[test]
    fn admin_loads_skip_the_flows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("f.toml"),
            "[flow]\nname = \"hello\"\n[nodes.a]\ntype = \"nope\"\n",
        )
        .unwrap();
        let cfg = dir.path().join("pbx.toml");
        std::fs::write(
            &cfg,
            "[ivr]\nflows_dir = \".\"\n[[dialplan]]\nextension = \"500\"\ntype = \"ivr\"\nflow = \"hello\"\n",
        )
        .unwrap();
        let err = Config::from_file(&cfg).unwrap_err();
        assert_eq!((err.line, err.column), (5, 8), "{err}");
        let admin = Config::from_file_for_admin(&cfg).unwrap();
        assert_eq!(admin.ivr.flows_dir.as_deref(), Some(dir.path()));
    }
}
