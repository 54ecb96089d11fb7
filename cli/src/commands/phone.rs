//! `pbx phone`: the softphone's command line. Without a subcommand it is
//! the interactive console; `call` and `answer` are one-shot modes for
//! scripts (exit 0 only when the call connected).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::phone::console::ConsoleOptions;
use crate::phone::oneshot::{digits, CallOptions};
use crate::phone::profile::Profile;
use crate::phone::sip::LinkConfig;
use crate::phone::{codec, parse_duration, preferring, Account};
use sip_stack::Transport;

/// Account and network flags shared by every mode. Each one left out is
/// taken from `--profile`, else from the default shown.
#[derive(Args, Debug, Clone)]
pub(crate) struct AccountArgs {
    /// TOML profile with the account, server, transport, codecs and
    /// devices (format: README, "The softphone"); flags override it.
    #[arg(long, env = "PBX_PHONE_PROFILE", global = true)]
    profile: Option<PathBuf>,
    /// SIP user (extension) to register and call as.
    #[arg(long, env = "PBX_PHONE_USER", global = true)]
    user: Option<String>,
    /// Digest password (without it, no registration and no credentials).
    #[arg(long, env = "PBX_PHONE_PASSWORD", global = true)]
    password: Option<String>,
    /// The pbx (registrar/proxy) as HOST[:PORT] [default: 127.0.0.1:5060].
    #[arg(long, env = "PBX_PHONE_SERVER", global = true)]
    server: Option<String>,
    /// AOR domain (default: the server's host).
    #[arg(long, global = true)]
    domain: Option<String>,
    /// Local SIP address (default: the address routing to the server, any port).
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Preferred codec: pcmu, pcma or opus [default: pcmu].
    #[arg(long, global = true)]
    codec: Option<String>,
    /// SIP transport: udp, tcp or tls [default: udp].
    #[arg(long, global = true)]
    transport: Option<sip_stack::Transport>,
    /// PEM file with the CA certificate(s) trusted for TLS.
    #[arg(long, global = true)]
    tls_ca: Option<PathBuf>,
    /// Interval of CRLF keep-alives to the server, RFC 5626 [default: 30s].
    #[arg(long, value_parser = parse_duration, global = true)]
    keepalive: Option<Duration>,
    /// Requested registration lifetime in seconds [default: 300].
    #[arg(long, global = true)]
    expires: Option<u32>,
}

/// Media and timing flags of the one-shot modes.
#[derive(Args, Debug, Clone)]
pub(crate) struct MediaArgs {
    /// Hang up this long after the call connected (e.g. 10s, 1500ms).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    duration: Duration,
    /// WAV file to send as our audio.
    #[arg(long)]
    play: Option<PathBuf>,
    /// WAV file to write what we hear into (8 kHz mono).
    #[arg(long)]
    record: Option<PathBuf>,
    /// DTMF digits to send (RFC 4733) once connected.
    #[arg(long)]
    dtmf: Option<String>,
    /// How long to wait for an answer (call) or a call (answer).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    wait: Duration,
}

/// `pbx phone` arguments.
#[derive(Args, Debug)]
pub(crate) struct PhoneArgs {
    #[command(subcommand)]
    mode: Option<PhoneCmd>,
    #[command(flatten)]
    account: AccountArgs,
    /// Console: WAV file used as the microphone.
    #[arg(long)]
    play: Option<PathBuf>,
    /// Console: record each call to NAME-<n>.wav.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Console: use the sound card (needs the `audio` build feature).
    #[arg(long)]
    audio: bool,
    /// Console: input device (part of its name; default device otherwise).
    #[arg(long)]
    input_device: Option<String>,
    /// Console: output device (part of its name; default device otherwise).
    #[arg(long)]
    output_device: Option<String>,
}

/// One-shot modes.
#[derive(Subcommand, Debug)]
pub(crate) enum PhoneCmd {
    /// Call URI (sip:1002@host, 1002@host or 1002), exit 0 if it connected.
    Call {
        /// Who to call.
        uri: String,
        #[command(flatten)]
        media: MediaArgs,
    },
    /// Register and answer the next incoming call.
    Answer {
        #[command(flatten)]
        media: MediaArgs,
    },
    /// List sound card devices (needs the `audio` build feature).
    Devices,
}

/// The account from the flags, then the profile, then the defaults.
fn account(a: &AccountArgs, p: &Profile) -> anyhow::Result<Account> {
    let user = a
        .user
        .clone()
        .or_else(|| p.account.user.clone())
        .ok_or_else(|| anyhow::anyhow!("pbx phone needs --user (and --password, --server)"))?;
    let transport = match (a.transport, &p.server.transport) {
        (Some(t), _) => t,
        (None, Some(t)) => t
            .parse()
            .map_err(|_| anyhow::anyhow!("profile: unknown transport {t:?} (udp, tcp or tls)"))?,
        (None, None) => Transport::Udp,
    };
    let mut server = a
        .server
        .clone()
        .or_else(|| p.server.address.clone())
        .unwrap_or_else(|| "127.0.0.1:5060".into());
    if !server.contains(':') {
        server = format!("{server}:{}", transport.default_port());
    }
    let codecs = match (&a.codec, &p.media.codecs) {
        (Some(c), _) => preferring(c)?,
        (None, Some(list)) if !list.is_empty() => list
            .iter()
            .map(|c| codec(c))
            .collect::<anyhow::Result<_>>()?,
        (None, _) => preferring("pcmu")?,
    };
    let keepalive = match (a.keepalive, &p.server.keepalive) {
        (Some(k), _) => k,
        (None, Some(k)) => {
            parse_duration(k).map_err(|e| anyhow::anyhow!("profile: keepalive: {e}"))?
        }
        (None, None) => Duration::from_secs(30),
    };
    let mut account = Account::new(
        user,
        a.password.clone().or_else(|| p.account.password.clone()),
        &server,
        a.domain.clone().or_else(|| p.account.domain.clone()),
        a.bind.or(p.server.bind),
        codecs,
    )?;
    account.expires = a.expires.or(p.server.expires).unwrap_or(300);
    account.link = LinkConfig {
        transport,
        tls_roots: a
            .tls_ca
            .iter()
            .chain(&p.server.tls_ca)
            .take(1)
            .cloned()
            .collect(),
        keepalive,
    };
    Ok(account)
}

fn options(m: &MediaArgs) -> anyhow::Result<CallOptions> {
    Ok(CallOptions {
        duration: m.duration,
        play: m.play.clone(),
        record: m.record.clone(),
        dtmf: m
            .dtmf
            .as_deref()
            .map(digits)
            .transpose()?
            .unwrap_or_default(),
        wait: m.wait,
    })
}

/// Runs `pbx phone`.
pub(crate) fn run(args: PhoneArgs) -> anyhow::Result<ExitCode> {
    // Diagnostics go to stderr, off unless PBX_LOG asks (e.g. PBX_LOG=debug).
    let filter = tracing_subscriber::EnvFilter::try_from_env("PBX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let profile = match &args.account.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    rt.block_on(async move {
        match args.mode {
            Some(PhoneCmd::Call { uri, media }) => {
                crate::phone::oneshot::call(
                    &account(&args.account, &profile)?,
                    &uri,
                    &options(&media)?,
                )
                .await
            }
            Some(PhoneCmd::Answer { media }) => {
                crate::phone::oneshot::answer(&account(&args.account, &profile)?, &options(&media)?)
                    .await
            }
            Some(PhoneCmd::Devices) => devices(),
            None => {
                let opts = ConsoleOptions {
                    play: args.play,
                    record: args.record,
                    sound_card: (args.audio || profile.audio.enabled == Some(true)).then(|| {
                        (
                            args.input_device.or(profile.audio.input_device.clone()),
                            args.output_device.or(profile.audio.output_device.clone()),
                        )
                    }),
                };
                crate::phone::console::run(&account(&args.account, &profile)?, opts).await
            }
        }
    })
}

#[cfg(feature = "audio")]
fn devices() -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let devices = crate::phone::audio::list()?;
    crate::output::stdout(|out| devices.iter().try_for_each(|d| writeln!(out, "{d}")))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "audio"))]
fn devices() -> anyhow::Result<ExitCode> {
    anyhow::bail!("this pbx was built without sound card support (cargo feature `audio`)")
}
