//! Tests of the whole configuration: positions of errors, defaults and
//! the sections that have no test module of their own.

use super::*;

#[test]
fn embedded_default_is_valid() {
    let c = Config::embedded();
    assert_eq!(c.domain, "127.0.0.1");
    assert!(c.users.len() >= 2);
    // UDP, TCP and the WebSocket listener of the agent desktop
    assert_eq!(c.listen.len(), 3);
    assert!(c
        .listen
        .iter()
        .any(|l| l.transport == sip_stack::Transport::Ws));
}

#[test]
fn syntax_error_has_position() {
    let err = Config::from_str_named("[server]\ndomain = \n", "x.toml").unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("x.toml", 2), "{err}");
}

#[test]
fn semantic_error_has_position() {
    let text = "[server]\nlisten = [\"udp:127.0.0.1:5060\", \"sctp:1.2.3.4:5\"]\n";
    let err = Config::from_str_named(text, "x.toml").unwrap_err();
    assert_eq!((err.line, err.column), (2, 33), "{err}");
    assert!(err.message.contains("sctp"), "{err}");
}

#[test]
fn websocket_listeners() {
    let dir = std::env::temp_dir().join(format!("pbx-config-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&cert, "x").unwrap();
    std::fs::write(&key, "x").unwrap();
    let text = format!(
        "[server]\nlisten = [\"udp:127.0.0.1:5060\", \"ws:127.0.0.1:8080\"]\n\
         [[server.tls]]\nlisten = \"127.0.0.1:8443\"\ntransport = \"wss\"\ncert = {cert:?}\nkey = {key:?}\n\
         [[server.tls]]\nlisten = \"127.0.0.1:5061\"\ncert = {cert:?}\nkey = {key:?}\n"
    );
    let c = Config::from_str_named(&text, "x.toml").unwrap();
    let kinds: Vec<_> = c
        .listen
        .iter()
        .map(|l| (l.transport, l.addr.port(), l.tls.is_some()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Transport::Udp, 5060, false),
            (Transport::Ws, 8080, false),
            (Transport::Wss, 8443, true),
            (Transport::Tls, 5061, true),
        ]
    );
    // WSS needs a certificate, so it is not a plain listen entry.
    let err =
        Config::from_str_named("[server]\nlisten = [\"wss:127.0.0.1:1\"]\n", "x.toml").unwrap_err();
    assert!(err.message.contains("[[server.tls]]"), "{err}");
    let bad = text.replace("\"wss\"", "\"udp\"");
    let err = Config::from_str_named(&bad, "x.toml").unwrap_err();
    assert!(err.message.contains("\"tls\" or \"wss\""), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_key_is_an_error() {
    let err = Config::from_str_named("[registrar]\nmin_expire = 3\n", "x.toml").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
    assert!(err.message.contains("min_expire"), "{err}");
}

#[test]
fn bad_cidr_and_duplicate_user() {
    let err = Config::from_str_named("[security]\ntrusted = [\"10.0.0.0/33\"]\n", "x").unwrap_err();
    assert_eq!((err.line, err.column), (2, 12), "{err}");
    let text =
        "[[users]]\nname = \"a\"\npassword = \"x\"\n[[users]]\nname = \"a\"\npassword = \"y\"\n";
    let err = Config::from_str_named(text, "x").unwrap_err();
    assert_eq!(err.line, 5, "{err}");
}

#[test]
fn music_on_hold() {
    let off = Config::from_str_named("[calls]\nmusic_on_hold = \"\"\n", "x").unwrap();
    assert_eq!(off.calls.music_on_hold, None);
    let err =
        Config::from_str_named("[calls]\nmusic_on_hold = \"/no/such.wav\"\n", "x").unwrap_err();
    assert_eq!((err.line, err.column), (2, 17), "{err}");
    let dir = std::env::temp_dir().join(format!("pbx-moh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!("[media]\nprompts_dir = \"{}\"\n", dir.display());
    assert_eq!(
        Config::from_str_named(&text, "x")
            .unwrap()
            .calls
            .music_on_hold,
        None
    );
    std::fs::write(dir.join("moh.wav"), b"RIFF").unwrap();
    let on = Config::from_str_named(&text, "x").unwrap();
    assert_eq!(on.calls.music_on_hold, Some(dir.join("moh.wav")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dialplan_and_engine() {
    let text = "[calls]\nengine = \"b2bua\"\n[[dialplan]]\nextension = \"800\"\ntype = \"conference\"\nmoderator_pin = \"42\"\n[[dialplan]]\nregex = \"^0(\\\\d+)$\"\ntype = \"trunk\"\ntrunk = \"t\"\nnumber = \"+49$1\"\n";
    let c = Config::from_str_named(text, "x").unwrap();
    assert_eq!(c.calls.engine, CallEngine::B2bua);
    assert_eq!(c.dialplan.entries.len(), 2);
    assert_eq!(
        c.dialplan.route("0301", 0),
        Some(crate::dialplan::Route::Trunk {
            trunk: "t".into(),
            number: "+49301".into()
        })
    );
    let bad = "[[dialplan]]\nextension = \"1\"\ntype = \"voicemail\"\n";
    let err = Config::from_str_named(bad, "x").unwrap_err();
    assert_eq!((err.line, err.column), (3, 8), "{err}");
    assert!(err.message.contains("voicemail"), "{err}");
    let bad = "[calls]\nengine = \"sbc\"\n";
    let err = Config::from_str_named(bad, "x").unwrap_err();
    assert_eq!((err.line, err.column), (2, 10), "{err}");
    let bad = "[[dialplan]]\nregex = \"(\"\ntype = \"user\"\n";
    let err = Config::from_str_named(bad, "x").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
}

#[test]
fn trunks_are_validated_with_positions() {
    let text = "[[trunks]]\nname = \"carrier\"\nproxy = \"localhost:5070\"\nusername = \"acct\"\npassword = \"pw\"\nregister = true\nmax_calls = 2\nprefixes = [\"+31\"]\noutbound = { strip = 1, country_code = \"31\" }\ninbound = { country_code = \"31\" }\ndids = [\"0201234567\", { number = \"+31201234568\", target = \"1002\" }]\n";
    let c = Config::from_str_named(text, "x").unwrap();
    let t = &c.trunks[0];
    assert_eq!(t.proxy.addr(), Some("127.0.0.1:5070".parse().unwrap()));
    assert!(t.register);
    assert_eq!(t.max_calls, Some(2));
    assert_eq!(t.outbound.apply("90201234567"), "+31201234567");
    assert_eq!(
        t.dids[0].number, "+31201234567",
        "DIDs are stored normalised"
    );
    assert_eq!(t.dids[1].target.as_deref(), Some("1002"));
    for (bad, line, needle) in [
        ("[[trunks]]\nname = \"t\"\nproxy = \"carrier..example\"\n", 3, "not a host name"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"10.0.0.1\"\n", 3, "needs a port"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"sip.carrier.example:70000\"\n", 3, "port"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"localhost\"\n", 3, "localhost needs a port"),
        ("[trunks_dns]\n\nservers = [\"127.0.0.1:53\", \"dns.example\"]\n", 3, "trunks_dns server"),
        ("[trunks_dns]\nmin_refresh_secs = 0\n", 2, "min_refresh_secs"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\ntransport = \"tls\"\n", 4, "tls"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\nregister = true\n", 4, "username"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\nmax_calls = 0\n", 4, "max_calls"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\n[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5061\"\n", 5, "twice"),
        ("[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\ninbound = { country_code = \"abc\" }\n", 4, "country_code"),
        ("[[trunks]]\nname = \"lcr\"\nproxy = \"127.0.0.1:5060\"\n", 2, "lcr"),
        ("[[dialplan]]\nprefix = \"0\"\ntype = \"trunk\"\ntrunk = \"nope\"\n[[trunks]]\nname = \"t\"\nproxy = \"127.0.0.1:5060\"\n", 4, "nope"),
    ] {
        let err = Config::from_str_named(bad, "x").unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.message.contains(needle), "{err}");
    }
}

#[test]
fn trunks_by_host_name_and_their_resolver() {
    let text = "[trunks_dns]\nservers = [\"127.0.0.1:5353\", \"::1\"]\nmin_refresh_secs = 60\n\
                [[trunks]]\nname = \"a\"\nproxy = \"SIP.Carrier.example.\"\n\
                [[trunks]]\nname = \"b\"\nproxy = \"sip.carrier.example:5080\"\ntransport = \"tcp\"\n\
                [[trunks]]\nname = \"c\"\nproxy = \"[2001:db8::1]:5060\"\n";
    let c = Config::from_str_named(text, "x").unwrap();
    use crate::trunks::Proxy;
    assert_eq!(
        c.trunks[0].proxy,
        Proxy::Host {
            name: "sip.carrier.example".into(),
            port: None
        }
    );
    assert_eq!(c.trunks[0].domain(), "sip.carrier.example");
    assert_eq!(
        c.trunks[1].proxy,
        Proxy::Host {
            name: "sip.carrier.example".into(),
            port: Some(5080)
        }
    );
    assert_eq!(c.trunks[2].domain(), "[2001:db8::1]");
    assert_eq!(
        c.trunks_dns.servers,
        [
            "127.0.0.1:5353".parse().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
    assert_eq!(c.trunks_dns.min_refresh, Duration::from_secs(60));
    let d = Config::from_str_named("", "x").unwrap().trunks_dns;
    assert!(d.servers.is_empty(), "the system's resolv.conf by default");
    assert_eq!(d.min_refresh, Duration::from_secs(30));
}

#[test]
fn expires_limits_are_checked() {
    let err = Config::from_str_named("[registrar]\nmin_expires = 100\nmax_expires = 50\n", "x")
        .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}

#[test]
fn max_contacts_policy_default_values_and_errors() {
    use crate::registrar::MaxContactsPolicy;
    let c = Config::from_str_named("", "x").unwrap();
    assert_eq!(
        (c.max_contacts, c.max_contacts_policy),
        (10, MaxContactsPolicy::ReplaceOldest)
    );
    let c = Config::from_str_named(
        "[registrar]\nmax_contacts = 2\nmax_contacts_policy = \"refuse\"\n",
        "x",
    )
    .unwrap();
    assert_eq!(
        (c.max_contacts, c.max_contacts_policy),
        (2, MaxContactsPolicy::Refuse)
    );
    let err = Config::from_str_named("[registrar]\nmax_contacts_policy = \"oldest\"\n", "x.toml")
        .unwrap_err();
    assert_eq!((err.line, err.column), (2, 23), "{err}");
    assert!(
        err.message.contains("oldest") && err.message.contains("replace-oldest"),
        "{err}"
    );
    let err = Config::from_str_named("[registrar]\nmax_contacts = 0\n", "x").unwrap_err();
    assert_eq!((err.line, err.column), (2, 16), "{err}");
}

#[test]
fn embedded_default_spells_out_the_registrar_policy() {
    assert!(EMBEDDED_DEFAULT.contains("max_contacts_policy = \"replace-oldest\""));
    let c = Config::embedded();
    assert_eq!(
        c.max_contacts_policy,
        crate::registrar::MaxContactsPolicy::ReplaceOldest
    );
}

/// `[[agents]] leader` and `department` (the reports' scope, SPEC §2)
/// are read beside the ACD profile; a leader must be another agent and
/// leaders must not form a cycle.
#[test]
fn agents_leaders_and_departments() {
    let base = "[calls]\nengine = \"b2bua\"\n[[queues]]\nname = \"sales\"\n";
    let text = format!(
        "{base}[[agents]]\nname = \"a1\"\nskills = [\"sales:5\"]\ndepartment = \"sales\"\n\
         [[agents]]\nname = \"a2\"\nskills = [\"sales:3\"]\nleader = \"a1\"\nwrap_up_s = 5\n"
    );
    let c = Config::from_str_named(&text, "x.toml").unwrap();
    assert_eq!(c.agents.len(), 2);
    assert_eq!(c.agents[1].wrap_up_s, Some(5));
    assert_eq!(c.agent_org[0].department.as_deref(), Some("sales"));
    assert_eq!(c.agent_org[1].leader.as_deref(), Some("a1"));
    let unknown = format!("{base}[[agents]]\nname = \"a1\"\nleader = \"boss\"\n");
    let err = Config::from_str_named(&unknown, "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("leader `boss`, which no [[agents]] entry defines") && err.contains("x.toml:"),
        "{err}"
    );
    let cycle = format!("{base}[[agents]]\nname = \"a1\"\nleader = \"a2\"\n[[agents]]\nname = \"a2\"\nleader = \"a1\"\n");
    let err = Config::from_str_named(&cycle, "x.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("form a cycle"), "{err}");
    let typo = format!("{base}[[agents]]\nname = \"a1\"\nskils = [\"sales:5\"]\n");
    let err = Config::from_str_named(&typo, "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("skils"),
        "unknown keys are still errors: {err}"
    );
    let bad = format!("{base}[[agents]]\nname = \"a1\"\nleader = 3\n");
    assert!(Config::from_str_named(&bad, "x.toml")
        .unwrap_err()
        .to_string()
        .contains("`leader` must be a non-empty string"));
}
