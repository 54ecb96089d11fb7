//! Tests of the whole configuration: positions of errors, defaults and
//! the sections that have no test module of their own.

use super::*;

#[test]
fn embedded_default_is_valid() {
    let c = Config::embedded();
    assert_eq!(c.domain, "127.0.0.1");
    assert!(c.users.len() >= 2);
    assert_eq!(c.listen.len(), 2);
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
    assert_eq!(t.addr, "127.0.0.1:5070".parse().unwrap());
    assert!(t.register);
    assert_eq!(t.max_calls, Some(2));
    assert_eq!(t.outbound.apply("90201234567"), "+31201234567");
    assert_eq!(
        t.dids[0].number, "+31201234567",
        "DIDs are stored normalised"
    );
    assert_eq!(t.dids[1].target.as_deref(), Some("1002"));
    for (bad, line, needle) in [
        ("[[trunks]]\nname = \"t\"\nproxy = \"carrier.example:5060\"\n", 3, "DNS"),
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
fn expires_limits_are_checked() {
    let err = Config::from_str_named("[registrar]\nmin_expires = 100\nmax_expires = 50\n", "x")
        .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}
