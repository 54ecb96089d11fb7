//! Caller-id presentation rules of the dial plan, as the called party (sipp)
//! receives them: a number and name shown to a registered phone; privacy
//! towards a trusted trunk (anonymous From, `Privacy: id`, the identity in
//! `P-Asserted-Identity`) and towards an untrusted one (no
//! `P-Asserted-Identity`, RFC 3325 §5).

use crate::harness::{free_port, users_toml, Pbx, SippResult};
use crate::proxy::{register_contact, TRUSTED};
use crate::require_sipp;

const ANONYMOUS: &str = "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=";

fn config(trusted_port: u16, plain_port: u16) -> String {
    let (base, top) = crate::harness::relay_range();
    format!(
        "{TRUSTED}\n[calls]\nengine = \"b2bua\"\nring_timeout_secs = 20\n\n\
         [media]\nanchor = \"always\"\naddress = \"127.0.0.1\"\nport_min = {base}\nport_max = {}\n\n\
         [[dialplan]]\nregex = \"^7(\\\\d+)$\"\ntype = \"user\"\nuser = \"$1\"\n\
         caller_id_number = \"+4930123$1\"\ncaller_id_name = \"Sales\"\n\
         [[dialplan]]\nprefix = \"*31\"\ntype = \"trunk\"\ntrunk = \"trusted\"\nstrip = 3\nprivacy = true\n\
         [[dialplan]]\nprefix = \"*32\"\ntype = \"trunk\"\ntrunk = \"plain\"\nstrip = 3\nprivacy = true\n\
         caller_id_number = \"+31201234500\"\n\
         [[trunks]]\nname = \"trusted\"\nproxy = \"127.0.0.1:{trusted_port}\"\ntrusted = true\n\
         caller_id = \"+31201234599\"\n\
         [[trunks]]\nname = \"plain\"\nproxy = \"127.0.0.1:{plain_port}\"\n{}",
        top,
        users_toml(&["1002"])
    )
}

/// sipp answers on `port` while the caller dials `number`; the messages the
/// called side received.
fn call(pbx: &Pbx, port: u16, number: &str) -> SippResult {
    let callee = pbx.sipp("b2b_uas").server().local_port(port).spawn();
    let uac = pbx.sipp("b2b_uac").service(number).run();
    let callee = callee.wait();
    uac.assert_both(&format!("caller of {number}"), &callee, "called side");
    callee
}

/// The first INVITE in a sipp message log.
fn invite(messages: &str) -> &str {
    let start = messages
        .find("INVITE sip:")
        .expect("an INVITE was received");
    let rest = &messages[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

#[test]
fn caller_id_rules_and_privacy_reach_the_called_party() {
    require_sipp!();
    let (trusted, plain, phone) = (free_port(), free_port(), free_port());
    let pbx = Pbx::start(&config(trusted, plain));
    register_contact(&pbx, "1002", phone, false);

    let shown = call(&pbx, phone, "71002");
    let inv = invite(&shown.messages);
    assert!(
        inv.contains("From: \"Sales\" <sip:+49301231002@"),
        "number and name of the rule:\n{inv}"
    );
    assert!(!inv.contains("Privacy:"), "{inv}");

    let to_trusted = call(&pbx, trusted, "*310201234567");
    let inv = invite(&to_trusted.messages);
    assert!(inv.contains(ANONYMOUS), "anonymous From:\n{inv}");
    assert!(inv.contains("\nPrivacy: id"), "{inv}");
    assert!(
        inv.contains("\nP-Asserted-Identity: <sip:+31201234599@127.0.0.1>"),
        "the trunk's caller id, asserted to the trusted trunk:\n{inv}"
    );
    assert!(
        !inv.contains("?Privacy"),
        "no header left in the URI:\n{inv}"
    );

    let to_plain = call(&pbx, plain, "*320201234567");
    let inv = invite(&to_plain.messages);
    assert!(inv.contains(ANONYMOUS), "anonymous From:\n{inv}");
    assert!(inv.contains("\nPrivacy: id"), "{inv}");
    assert!(
        !inv.contains("P-Asserted-Identity"),
        "no asserted identity outside the trust domain:\n{inv}"
    );
}
