//! A trunk named by host name (RFC 3263 §4.2), resolved through a DNS
//! server on 127.0.0.1 (`[trunks_dns] servers`) to two sipp carriers by
//! SRV: the first answers 503, the call lands on the second. A trunk whose
//! name does not resolve is shown as such by `pbx trunks` and skipped.

use pbx_core::trunks::dns::test_server::{TestDnsServer, TestRecord};

use crate::harness::{free_port, Pbx};
use crate::require_sipp;
use crate::trunks::{b2bua, field, trunks_until, LCR_PLAN};

fn srv(priority: u16, port: u16, target: &str) -> TestRecord {
    TestRecord::Srv {
        name: "_sip._udp.carrier.test".into(),
        priority,
        weight: 10,
        port,
        target: target.into(),
        ttl: 300,
    }
}

fn a(name: &str) -> TestRecord {
    TestRecord::Addr {
        name: name.into(),
        ip: std::net::Ipv4Addr::LOCALHOST.into(),
        ttl: 300,
    }
}

#[test]
fn a_host_named_trunk_fails_over_between_its_srv_targets() {
    require_sipp!();
    let (p1, p2, metrics) = (free_port(), free_port(), free_port());
    let dns = TestDnsServer::start(vec![
        srv(10, p1, "sip1.carrier.test"),
        srv(20, p2, "sip2.carrier.test"),
        a("sip1.carrier.test"),
        a("sip2.carrier.test"),
    ])
    .expect("test DNS server");
    let cfg = b2bua(&format!(
        "[trunks_dns]\nservers = [\"{}\"]\n\n{LCR_PLAN}\
         [[trunks]]\nname = \"gone\"\nproxy = \"gone.carrier.test\"\nprefixes = [\"+31\"]\npriority = 1\n\
         outbound = {{ country_code = \"31\" }}\n\n\
         [[trunks]]\nname = \"carrier\"\nproxy = \"carrier.test\"\nprefixes = [\"+31\"]\npriority = 2\n\
         outbound = {{ country_code = \"31\" }}\nsetup_timeout_secs = 2\n",
        dns.addr()
    ));
    let pbx = Pbx::start_with_metrics(&cfg, &format!("127.0.0.1:{metrics}"));
    // Both names were looked up: one resolved (SRV order), one failed.
    let lines = trunks_until(&pbx, |l| {
        l.get("carrier").is_some_and(|s| s.contains("resolved"))
            && l.get("gone").is_some_and(|s| s.contains("dns failed"))
    });
    let carrier: Vec<&str> = lines["carrier"].split_whitespace().collect();
    // name, registration, expires, health, rtt, calls, resolved_s, addresses, dns
    assert_eq!(
        carrier[7],
        format!("127.0.0.1:{p1},127.0.0.1:{p2}"),
        "{}",
        lines["carrier"]
    );
    assert!(carrier[6].parse::<u64>().is_ok(), "{}", lines["carrier"]);
    assert!(
        lines["gone"].ends_with("dns failed: no records for gone.carrier.test"),
        "{}",
        lines["gone"]
    );

    let first = pbx.sipp("trunk_uas_503").server().local_port(p1).spawn();
    let second = pbx.sipp("b2b_uas").server().local_port(p2).spawn();
    let uac = pbx.sipp("b2b_uac").service("0201234567").run();
    let (first, second) = (first.wait(), second.wait());
    first.assert_ok("the first SRV target answers 503");
    uac.assert_both(
        "caller reaches the second SRV target",
        &second,
        "second target",
    );
    // From / To carry the trunk's host name; the Request-URI the address.
    assert!(
        second
            .messages
            .contains(&format!("INVITE sip:+31201234567@127.0.0.1:{p2}")),
        "{}",
        second.messages
    );
    assert!(
        second.messages.contains("@carrier.test>"),
        "{}",
        second.messages
    );
    let rows = crate::b2bua::cdr_rows(&pbx, 1);
    let row = &rows[0];
    assert_eq!(field(row, "trunk"), "carrier");
    assert_eq!(field(row, "disposition"), "ANSWERED");
    let legs = field(row, "legs");
    assert!(legs.contains(&format!("127.0.0.1:{p1}:503")), "{legs}");
    assert!(legs.contains(&format!("127.0.0.1:{p2}:200")), "{legs}");
    let log = pbx.log_text();
    assert!(
        log.contains("trunk skipped: its host name has no address"),
        "{log}"
    );
    assert!(
        dns.queries() >= 3,
        "SRV and A lookups went to the test server"
    );
}
