//! The resolver against a real (minimal) authoritative server on
//! 127.0.0.1: SRV ordering and fallback as RFC 3263 §4.2 has them, errors,
//! and the task keeping a trunk's addresses fresh.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use sip_stack::Transport;

use super::{resolve, resolver, spawn};
use crate::trunks::config::Proxy;
use crate::trunks::dns::test_server::{TestDnsServer, TestRecord};
use crate::trunks::dns::{Answer, DnsConfig, DnsError};
use crate::trunks::Trunks;

fn a(name: &str, ip: &str, ttl: u32) -> TestRecord {
    TestRecord::Addr {
        name: name.into(),
        ip: ip.parse().expect("test ip"),
        ttl,
    }
}

fn srv(name: &str, priority: u16, weight: u16, port: u16, target: &str) -> TestRecord {
    TestRecord::Srv {
        name: name.into(),
        priority,
        weight,
        port,
        target: target.into(),
        ttl: 300,
    }
}

fn host(name: &str, port: Option<u16>) -> Proxy {
    Proxy::Host {
        name: name.into(),
        port,
    }
}

fn config(server: &TestDnsServer) -> DnsConfig {
    DnsConfig {
        servers: vec![server.addr()],
        min_refresh: Duration::from_secs(1),
        timeout: Duration::from_millis(300),
    }
}

fn addrs(v: &[&str]) -> Vec<SocketAddr> {
    v.iter().map(|s| s.parse().expect("test addr")).collect()
}

/// The carrier of the tests: two SIP servers behind SRV, a backup at a
/// worse priority, TCP on another port.
fn carrier() -> Vec<TestRecord> {
    vec![
        srv("_sip._udp.carrier.test", 10, 50, 5071, "sip1.carrier.test"),
        srv("_sip._udp.carrier.test", 10, 50, 5072, "sip2.carrier.test"),
        srv("_sip._udp.carrier.test", 20, 0, 5073, "backup.carrier.test"),
        srv("_sip._tcp.carrier.test", 10, 0, 5080, "sip1.carrier.test"),
        a("sip1.carrier.test", "127.0.0.11", 120),
        a("sip2.carrier.test", "127.0.0.12", 60),
        a("backup.carrier.test", "127.0.0.13", 600),
        a("carrier.test", "127.0.0.10", 300),
        a("plain.test", "127.0.0.20", 300),
        srv("_sip._udp.closed.test", 0, 0, 0, "."),
    ]
}

#[tokio::test]
async fn srv_targets_in_priority_order_then_their_addresses() {
    let server = TestDnsServer::start(carrier()).expect("dns server");
    let r = resolver(&config(&server)).expect("resolver");
    let mut rng = StdRng::seed_from_u64(5);
    let mut first_seen = std::collections::HashSet::new();
    for _ in 0..12 {
        let got = resolve(&r, &host("carrier.test", None), Transport::Udp, &mut rng)
            .await
            .expect("resolves");
        assert_eq!(got.targets.len(), 3, "{got:?}");
        let mut top: Vec<SocketAddr> = got.targets[..2].to_vec();
        top.sort();
        assert_eq!(top, addrs(&["127.0.0.11:5071", "127.0.0.12:5072"]));
        assert_eq!(got.targets[2], addrs(&["127.0.0.13:5073"])[0]);
        // The smallest TTL of the records used (sip2's 60 s).
        assert!(got.ttl <= Duration::from_secs(60), "{:?}", got.ttl);
        assert!(got.ttl >= Duration::from_secs(55), "{:?}", got.ttl);
        first_seen.insert(got.targets[0]);
    }
    assert_eq!(first_seen.len(), 2, "equal weights share the first place");
    // A TCP trunk asks for _sip._tcp.
    let tcp = resolve(&r, &host("carrier.test", None), Transport::Tcp, &mut rng)
        .await
        .expect("resolves");
    assert_eq!(tcp.targets, addrs(&["127.0.0.11:5080"]));
}

#[tokio::test]
async fn without_srv_or_with_a_port_only_a_records() {
    let server = TestDnsServer::start(carrier()).expect("dns server");
    let r = resolver(&config(&server)).expect("resolver");
    let mut rng = StdRng::seed_from_u64(1);
    // No SRV records: A at 5060.
    let plain = resolve(&r, &host("plain.test", None), Transport::Udp, &mut rng)
        .await
        .expect("resolves");
    assert_eq!(plain.targets, addrs(&["127.0.0.20:5060"]));
    // An explicit port: no SRV lookup even where SRV records exist.
    let before = server.queries();
    let explicit = resolve(
        &r,
        &host("carrier.test", Some(5099)),
        Transport::Udp,
        &mut rng,
    )
    .await
    .expect("resolves");
    assert_eq!(explicit.targets, addrs(&["127.0.0.10:5099"]));
    assert!(server.queries() - before <= 2, "A (and maybe AAAA) only");
    // IP literals are not looked up at all.
    let before = server.queries();
    let lit = resolve(
        &r,
        &Proxy::Addr(addrs(&["127.0.0.9:5060"])[0]),
        Transport::Udp,
        &mut rng,
    )
    .await
    .expect("literal");
    assert_eq!(lit.targets, addrs(&["127.0.0.9:5060"]));
    assert_eq!(server.queries(), before);
}

#[tokio::test]
async fn unknown_names_and_closed_services_are_errors() {
    let server = TestDnsServer::start(carrier()).expect("dns server");
    let r = resolver(&config(&server)).expect("resolver");
    let mut rng = StdRng::seed_from_u64(1);
    let none = resolve(&r, &host("nowhere.test", None), Transport::Udp, &mut rng).await;
    assert_eq!(
        none,
        Err(DnsError::NoRecords {
            name: "nowhere.test".into()
        })
    );
    let closed = resolve(&r, &host("closed.test", None), Transport::Udp, &mut rng).await;
    assert!(
        matches!(closed, Err(DnsError::NotAvailable { .. })),
        "{closed:?}"
    );
    // A server that never answers: a lookup error, not a hang.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
    let mut cfg = config(&server);
    cfg.servers = vec![silent.local_addr().expect("addr")];
    let r = resolver(&cfg).expect("resolver");
    let timed_out = tokio::time::timeout(
        Duration::from_secs(10),
        resolve(&r, &host("carrier.test", None), Transport::Udp, &mut rng),
    )
    .await
    .expect("gives up by itself");
    assert!(
        matches!(timed_out, Err(DnsError::Lookup { .. })),
        "{timed_out:?}"
    );
}

fn trunks_with(proxy: &str) -> Trunks {
    let text = format!("[[trunks]]\nname = \"carrier\"\nproxy = \"{proxy}\"\n");
    let configs = crate::config::Config::from_str_named(&text, "t")
        .expect("config")
        .trunks;
    Trunks::new(
        configs,
        &[(Transport::Udp, addrs(&["127.0.0.1:5060"])[0])],
        1,
        std::time::Instant::now(),
    )
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_task_resolves_at_start_and_again_after_the_ttl() {
    let server =
        TestDnsServer::start(vec![a("sip.carrier.test", "127.0.0.31", 1)]).expect("dns server");
    let trunks = Arc::new(
        trunks_with("sip.carrier.test:5070")
            .with_dns_config(&config(&server), std::time::Instant::now()),
    );
    assert_eq!(trunks.targets(0), Err(DnsError::Pending));
    assert_eq!(trunks.lines(std::time::Instant::now())[0].dns, "resolving");
    let task = spawn(trunks.clone(), |t: &Trunks| Some(t), config(&server), 9);
    wait_for("the first answer", || trunks.targets(0).is_ok()).await;
    assert_eq!(trunks.targets(0), Ok(addrs(&["127.0.0.31:5070"])));
    let line = &trunks.lines(std::time::Instant::now())[0];
    assert_eq!((line.dns.as_str(), line.targets.len()), ("resolved", 1));
    assert!(line.resolved_ago.is_some_and(|s| s <= 2), "{line:?}");
    // Inbound trust follows the resolved address (IP and port) only.
    assert_eq!(trunks.by_source(addrs(&["127.0.0.31:5070"])[0]), Some(0));
    assert_eq!(trunks.by_source(addrs(&["127.0.0.31:5999"])[0]), None);
    assert_eq!(trunks.by_source(addrs(&["127.0.0.32:5070"])[0]), None);
    // The carrier moves; after the (1 s) TTL the trunk follows.
    server.set_records(vec![a("sip.carrier.test", "127.0.0.32", 1)]);
    wait_for("the new address", || {
        trunks.targets(0) == Ok(addrs(&["127.0.0.32:5070"]))
    })
    .await;
    assert_eq!(trunks.by_source(addrs(&["127.0.0.31:5070"])[0]), None);
    assert_eq!(trunks.by_source(addrs(&["127.0.0.32:5070"])[0]), Some(0));
    // The name vanishes: the last good address stays in use, the state says why.
    server.set_records(Vec::new());
    wait_for("the failure", || {
        trunks.lines(std::time::Instant::now())[0]
            .dns
            .starts_with("dns failed")
    })
    .await;
    let line = &trunks.lines(std::time::Instant::now())[0];
    assert_eq!(line.dns, "dns failed: no records for sip.carrier.test");
    assert_eq!(trunks.targets(0), Ok(addrs(&["127.0.0.32:5070"])));
    task.abort();
}

#[tokio::test]
async fn a_name_that_never_resolves_is_reported_and_skipped() {
    let server = TestDnsServer::start(Vec::new()).expect("dns server");
    let trunks = Arc::new(
        trunks_with("gone.carrier.test")
            .with_dns_config(&config(&server), std::time::Instant::now()),
    );
    let task = spawn(trunks.clone(), |t: &Trunks| Some(t), config(&server), 9);
    wait_for("the failure", || {
        trunks.targets(0) != Err(DnsError::Pending)
    })
    .await;
    assert_eq!(
        trunks.targets(0),
        Err(DnsError::NoRecords {
            name: "gone.carrier.test".into()
        })
    );
    let line = &trunks.lines(std::time::Instant::now())[0];
    assert_eq!(line.dns, "dns failed: no records for gone.carrier.test");
    assert!(line.targets.is_empty());
    assert_eq!(line.resolved_ago, None);
    task.abort();
}

/// Calls, not only lookups, spread by SRV weight (RFC 2782): each call's
/// order is drawn from the ranks of the last answer; a lower priority is
/// always tried first.
#[test]
fn each_call_draws_its_order_by_the_srv_weights() {
    let trunks = trunks_with("carrier.test");
    let [heavy, light, backup] = [
        addrs(&["192.0.2.1:5060"])[0],
        addrs(&["192.0.2.2:5060"])[0],
        addrs(&["192.0.2.3:5060"])[0],
    ];
    let answer = Answer {
        targets: vec![light, heavy, backup],
        ranks: vec![(10, 25), (10, 75), (20, 100)],
        ttl: Duration::from_secs(300),
    };
    trunks.handle_answer(0, std::time::Instant::now(), Ok(answer));
    let calls = 2000;
    let mut heavy_first = 0;
    for _ in 0..calls {
        let order = trunks.targets(0).expect("resolved");
        assert_eq!(order.len(), 3);
        assert_eq!(order[2], backup, "the backup priority comes last");
        if order[0] == heavy {
            heavy_first += 1;
        }
    }
    let share = f64::from(heavy_first) / f64::from(calls);
    assert!(
        (share - 0.75).abs() < 0.05,
        "heavy first in {share:.2} of calls"
    );

    // Without SRV weights the order stays the answer's (A/AAAA order).
    let plain = Answer {
        targets: vec![light, heavy],
        ranks: vec![(0, 0), (0, 0)],
        ttl: Duration::from_secs(300),
    };
    trunks.handle_answer(0, std::time::Instant::now(), Ok(plain));
    for _ in 0..20 {
        assert_eq!(trunks.targets(0), Ok(vec![light, heavy]));
    }
}
