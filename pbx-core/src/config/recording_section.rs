//! `[recording]` (and `[recording.s3]`): which calls are recorded, the
//! spool, the object store, retention — filled into the `recorder` crate's
//! own settings ([`crate::recording::RecordingConfig`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Positioner};
use crate::recording::{Policy, PolicyConfig, RecordingConfig, RecordingMode};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecording {
    mode: Option<Spanned<String>>,
    spool_dir: Option<String>,
    /// Root of the local store (when there is no `[recording.s3]`).
    local_dir: Option<String>,
    /// Key prefix (`{account}/{pbx}`).
    prefix: Option<Spanned<String>>,
    retention_days: Option<Spanned<u32>>,
    /// Give up an upload after this many attempts (0: never).
    max_attempts: Option<u32>,
    /// Transcribe finished recordings with pocketsphinx (SPEC §15).
    transcribe: Option<bool>,
    /// Recognizer threads (1-16, default 1).
    transcribe_workers: Option<Spanned<u32>>,
    /// In-call keys that pause / resume the recording (`*1`).
    pause_code: Option<Spanned<String>>,
    /// In-call keys that start an `on_demand` recording (`*2`).
    start_code: Option<Spanned<String>>,
    /// Per-user policies (`"1001" = "never"`).
    #[serde(default)]
    users: BTreeMap<String, Spanned<String>>,
    /// Per-trunk policies.
    #[serde(default)]
    trunks: BTreeMap<String, Spanned<String>>,
    /// Per-queue policies.
    #[serde(default)]
    queues: BTreeMap<String, Spanned<String>>,
    s3: Option<Spanned<RawS3>>,
}

/// The names a policy table may use: configured trunks and queues (users
/// may live in the store, so any user name is accepted).
pub(super) struct Known<'a> {
    pub trunks: &'a [crate::trunks::TrunkConfig],
    pub queues: &'a [acd::QueueConfig],
    /// Offsets of the dial-plan entries' `recording = "on_demand"` values.
    pub on_demand_entries: Vec<usize>,
}

fn policy_word(
    p: &Spanned<String>,
    key: &str,
    pos: &Positioner<'_>,
) -> Result<Policy, ConfigError> {
    Policy::parse(p.get_ref()).ok_or_else(|| {
        pos.at(
            p,
            format!(
                "{key} `{}`: use \"always\", \"never\" or \"on_demand\"",
                p.get_ref()
            ),
        )
    })
}

/// `[recording.users]`, `.trunks`, `.queues` and `start_code`.
fn build_policies(
    raw: &RawRecording,
    mode: RecordingMode,
    known: &Known<'_>,
    pos: &Positioner<'_>,
) -> Result<PolicyConfig, ConfigError> {
    let mut out = PolicyConfig::default();
    let mut on_demand_at = known.on_demand_entries.first().copied();
    let tables = [
        ("users", &raw.users, &mut out.users),
        ("trunks", &raw.trunks, &mut out.trunks),
        ("queues", &raw.queues, &mut out.queues),
    ];
    for (table, raw_map, map) in tables {
        for (name, word) in raw_map {
            let key = format!("recording.{table}.{name}");
            let policy = policy_word(word, &key, pos)?;
            let exists = match table {
                "trunks" => known.trunks.iter().any(|t| t.name == *name),
                "queues" => known.queues.iter().any(|q| q.name.as_str() == name),
                _ => true,
            };
            if !exists {
                let what = &table[..table.len() - 1];
                return Err(pos.at(
                    word,
                    format!("{key}: there is no {what} `{name}` (see [[{table}]])"),
                ));
            }
            if policy == Policy::OnDemand && on_demand_at.is_none() {
                on_demand_at = Some(word.span().start);
            }
            map.insert(name.clone(), policy);
        }
    }
    if mode == RecordingMode::OnDemand && on_demand_at.is_none() {
        on_demand_at = raw.mode.as_ref().map(|m| m.span().start);
    }
    if let Some(code) = &raw.start_code {
        check_code(code, "start_code", pos)?;
        if raw.pause_code.as_ref().map(|p| p.get_ref()) == Some(code.get_ref()) {
            return Err(pos.at(
                code,
                "recording.start_code must differ from recording.pause_code",
            ));
        }
        out.start_code = Some(code.get_ref().clone());
    } else if let Some(at) = on_demand_at {
        return Err(pos.error(
            at,
            "\"on_demand\" recording needs recording.start_code (the keys that start it, e.g. \"*2\")",
        ));
    }
    Ok(out)
}

fn check_code(code: &Spanned<String>, key: &str, pos: &Positioner<'_>) -> Result<(), ConfigError> {
    let c = code.get_ref();
    let keys = |k: char| k.is_ascii_digit() || matches!(k, '*' | '#' | 'A'..='D');
    if c.is_empty() || c.len() > 8 || !c.chars().all(keys) {
        return Err(pos.at(
            code,
            format!("recording.{key}: 1 to 8 keys of 0-9 * # A-D (e.g. \"*1\")"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    endpoint: Option<String>,
    region: Option<String>,
    bucket: String,
    /// Path-style requests (`host/bucket/key`, default true: MinIO,
    /// SeaweedFS, Ceph); false for virtual-hosted style.
    path_style: Option<bool>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    allow_http: Option<bool>,
}

/// `[recording]`: defaults `mode = "off"`, spool `<data_dir>/spool/recordings`,
/// local store `<data_dir>/recordings`, index `<data_dir>/recordings.sqlite`.
pub(super) fn build(
    raw: &RawRecording,
    data_dir: &Path,
    known: &Known<'_>,
    pos: &Positioner<'_>,
) -> Result<RecordingConfig, ConfigError> {
    let mode = match &raw.mode {
        None => RecordingMode::Off,
        Some(m) => RecordingMode::parse(m.get_ref()).ok_or_else(|| {
            pos.at(
                m,
                format!(
                    "recording.mode `{}`: use \"off\", \"always\", \"queues\" or \"on_demand\"",
                    m.get_ref()
                ),
            )
        })?,
    };
    let mut spool = recorder::SpoolConfig {
        dir: raw
            .spool_dir
            .as_ref()
            .map_or_else(|| data_dir.join("spool/recordings"), PathBuf::from),
        ..recorder::SpoolConfig::default()
    };
    if spool.dir.as_os_str().is_empty() {
        spool.dir = data_dir.join("spool/recordings");
    }
    let store = match &raw.s3 {
        None => recorder::StoreConfig::Local {
            root: raw
                .local_dir
                .as_ref()
                .map_or_else(|| data_dir.join("recordings"), PathBuf::from),
        },
        Some(s3) => {
            let s = s3.get_ref();
            recorder::StoreConfig::S3(recorder::S3Config {
                endpoint: s.endpoint.clone(),
                region: s.region.clone(),
                bucket: s.bucket.clone(),
                virtual_hosted: !s.path_style.unwrap_or(true),
                access_key_id: s.access_key_id.clone(),
                secret_access_key: s.secret_access_key.clone(),
                session_token: s.session_token.clone(),
                allow_http: s.allow_http.unwrap_or(false),
            })
        }
    };
    let upload = recorder::UploadConfig {
        store,
        prefix: raw.prefix.as_ref().map(|p| p.get_ref().clone()),
        max_attempts: raw.max_attempts.unwrap_or(0),
        ..recorder::UploadConfig::default()
    };
    if let Err(e) = upload.validate() {
        let at = match (&e, &raw.s3, &raw.prefix) {
            (recorder::Error::Config { key, .. }, _, Some(p)) if *key == "upload.prefix" => {
                p.span().start
            }
            (_, Some(s3), _) => s3.span().start,
            _ => raw.prefix.as_ref().map_or(0, |p| p.span().start),
        };
        let text = match &e {
            recorder::Error::Config { key, reason } => {
                let key = key
                    .replace("upload.s3.", "recording.s3.")
                    .replace("upload.", "recording.");
                format!("{key}: {reason}")
            }
            other => other.to_string(),
        };
        return Err(pos.error(at, text));
    }
    if let Some(days) = &raw.retention_days {
        if *days.get_ref() == 0 {
            return Err(pos.at(
                days,
                "recording.retention_days must be at least 1 (leave it out to keep recordings)",
            ));
        }
    }
    let workers = match &raw.transcribe_workers {
        Some(w) if !(1..=16).contains(w.get_ref()) => {
            return Err(pos.at(w, "recording.transcribe_workers must be 1 to 16"));
        }
        Some(w) => *w.get_ref() as usize,
        None => 1,
    };
    if let Some(code) = &raw.pause_code {
        check_code(code, "pause_code", pos)?;
    }
    let policy = build_policies(raw, mode, known, pos)?;
    Ok(RecordingConfig {
        mode,
        spool,
        upload,
        index: data_dir.join("recordings.sqlite"),
        link_key: data_dir.join("recording-link.key"),
        retention_days: raw.retention_days.as_ref().map(|d| *d.get_ref()),
        transcribe_workers: raw.transcribe.unwrap_or(false).then_some(workers),
        pause_code: raw.pause_code.as_ref().map(|c| c.get_ref().clone()),
        policy,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::recording::RecordingMode;

    fn parse(extra: &str) -> Result<Config, crate::config::ConfigError> {
        let text =
            format!("[server]\nlisten = [\"udp:127.0.0.1:5060\"]\ndata_dir = \"/tmp/d\"\n{extra}");
        Config::from_str_named(&text, "t.toml")
    }

    #[test]
    fn defaults_are_off_and_local() {
        let c = parse("").unwrap();
        assert_eq!(c.recording.mode, RecordingMode::Off);
        assert_eq!(
            c.recording.spool.dir,
            std::path::Path::new("/tmp/d/spool/recordings")
        );
        assert!(matches!(
            &c.recording.upload.store,
            recorder::StoreConfig::Local { root } if root == std::path::Path::new("/tmp/d/recordings")
        ));
        assert_eq!(c.recording.retention_days, None);
    }

    #[test]
    fn s3_section_maps_onto_the_upload_config() {
        let c = parse(
            "[recording]\nmode = \"queues\"\nretention_days = 30\nprefix = \"acme/pbx1\"\n\
             [recording.s3]\nendpoint = \"http://127.0.0.1:8333\"\nbucket = \"rec\"\n\
             access_key_id = \"k\"\nsecret_access_key = \"s\"\n",
        )
        .unwrap();
        assert_eq!(c.recording.mode, RecordingMode::Queues);
        assert_eq!(c.recording.retention_days, Some(30));
        let recorder::StoreConfig::S3(s3) = &c.recording.upload.store else {
            panic!("not S3");
        };
        assert_eq!(s3.bucket, "rec");
        assert!(!s3.virtual_hosted);
        assert_eq!(s3.access_key_id.as_deref(), Some("k"));
    }

    #[test]
    fn errors_name_their_place() {
        let e = parse("[recording]\nmode = \"sometimes\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (5, 8), "{e}");
        assert!(e.message.contains("\"always\""), "{e}");
        let e = parse("[recording]\nmode = \"always\"\n[recording.s3]\nbucket = \"Bad_Bucket\"\n")
            .unwrap_err();
        assert!(e.message.starts_with("recording.s3.bucket"), "{e}");
        assert!(e.line >= 6, "{e}");
        let e = parse("[recording.s3]\nbucket = \"rec\"\nendpoint = \"http://s3.example.com\"\n")
            .unwrap_err();
        assert!(e.message.contains("allow_http"), "{e}");
        let e = parse("[recording]\ntranscribe = true\ntranscribe_workers = 0\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = parse("[recording]\npause_code = \"*x\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        let c = parse("[recording]\ntranscribe = true\npause_code = \"*1\"\n").unwrap();
        assert_eq!(c.recording.pause_code.as_deref(), Some("*1"));
        assert_eq!(c.recording.transcribe_workers, Some(1));
        let e = parse("[recording]\nretention_days = 0\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        let e = parse("[recording]\nprefix = \"/x\"\n").unwrap_err();
        assert!(e.message.starts_with("recording.prefix"), "{e}");
        assert!(parse("[recording]\nmood = \"always\"\n").is_err());
    }

    #[test]
    fn policies_per_user_trunk_queue_and_dialplan_entry() {
        use crate::recording::Policy;
        let c = parse(
            "[recording]\nstart_code = \"*2\"\n[recording.users]\n\"1001\" = \"never\"\n\
             \"1002\" = \"on_demand\"\n[[queues]]\nname = \"sales\"\n\
             [recording.queues]\nsales = \"always\"\n\
             [[dialplan]]\nextension = \"500\"\ntype = \"user\"\nuser = \"1002\"\nrecording = \"never\"\n",
        )
        .unwrap();
        let p = &c.recording.policy;
        assert_eq!(p.users.get("1001"), Some(&Policy::Never));
        assert_eq!(p.users.get("1002"), Some(&Policy::OnDemand));
        assert_eq!(p.queues.get("sales"), Some(&Policy::Always));
        assert_eq!(p.start_code.as_deref(), Some("*2"));
        assert_eq!(c.dialplan.entries[0].recording, Some(Policy::Never));
        assert!(p.records_any(&c.dialplan));
    }

    #[test]
    fn policy_errors_name_their_place() {
        // Line 6 col 10: the bad word.
        let e = parse("[recording]\n[recording.users]\n\"1001\" = \"sometimes\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (6, 10), "{e}");
        assert!(e.message.contains("recording.users.1001"), "{e}");
        let e = parse("[recording.trunks]\ncarrier = \"always\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("no trunk `carrier`"), "{e}");
        let e = parse("[recording.queues]\nsales = \"always\"\n").unwrap_err();
        assert!(e.message.contains("no queue `sales`"), "{e}");
        // on_demand without a start code: at the word that needs it.
        let e = parse("[recording.users]\n\"1001\" = \"on_demand\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.message.contains("start_code"), "{e}");
        let e = parse("[recording]\nmode = \"on_demand\"\n").unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        let e = parse(
            "[[dialplan]]\nextension = \"500\"\ntype = \"user\"\nuser = \"1\"\nrecording = \"on_demand\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        let e = parse(
            "[[dialplan]]\nextension = \"500\"\ntype = \"user\"\nuser = \"1\"\nrecording = \"maybe\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("\"never\""), "{e}");
        let e = parse("[recording]\npause_code = \"*1\"\nstart_code = \"*1\"\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = parse("[recording]\nstart_code = \"x\"\n").unwrap_err();
        assert!(e.message.starts_with("recording.start_code"), "{e}");
        let c = parse("[recording]\nmode = \"on_demand\"\nstart_code = \"*2\"\n").unwrap();
        assert_eq!(c.recording.mode, RecordingMode::OnDemand);
    }
}
