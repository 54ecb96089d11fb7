//! baresip as a test peer: a headless configuration (aufile microphone,
//! ALSA `null` speaker, sndfile recording of what it decodes) and helpers
//! shared by the interop tests.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `cmd` is on the PATH.
pub(crate) fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when baresip can run; panics when the run requires it
/// (`PBX_E2E_REQUIRE_SIPP`, set by `test.sh`) but it is missing.
pub(crate) fn available() -> bool {
    if have("baresip") {
        return true;
    }
    assert!(
        std::env::var_os("PBX_E2E_REQUIRE_SIPP").is_none(),
        "baresip is required here (apt-get install baresip)"
    );
    eprintln!("skipping: baresip not installed");
    false
}

/// A port that was free a moment ago.
pub(crate) fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A baresip config directory under `root/name` for `user` (password
/// `USER-pw`, auto-answer, PCMU) registering at the pbx on `pbx_port`,
/// sending `tone` as its microphone and recording what it decodes into
/// the directory (see [`decoded_wav`]).
pub(crate) fn baresip_dir(
    root: &Path,
    name: &str,
    user: &str,
    pbx_port: u16,
    tone: &Path,
) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // Far apart: baresip also binds TCP/TLS on neighbouring ports.
    let sip_port = free_udp_port();
    let config = format!(
        "poll_method epoll\nnet_interface 127.0.0.1\nsip_listen 127.0.0.1:{sip_port}\nsip_transports udp\n\
         audio_player alsa,null\naudio_alert alsa,null\naudio_source aufile,{}\n\
         module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule alsa.so\nmodule sndfile.so\n\
         module_app account.so\nmodule_app menu.so\nsnd_path {}\n",
        tone.display(),
        dir.display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    let account = format!(
        "<sip:{user}@127.0.0.1:{pbx_port};transport=udp>;auth_pass={user}-pw;answermode=auto;audio_codecs=PCMU\n"
    );
    std::fs::write(dir.join("accounts"), account).unwrap();
    dir
}

/// The WAV baresip's sndfile module wrote with what it decoded, if any.
pub(crate) fn decoded_wav(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
}
