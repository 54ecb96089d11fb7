//! `registrar.max_contacts_policy`: a phone re-registering from new ports past
//! `max_contacts` replaces its oldest binding (default), in memory and in the
//! store, instead of being locked out with 403.

use std::time::Duration;

use crate::harness::{free_port, password, Pbx};
use crate::register::wait_registrations;
use crate::require_sipp;

#[test]
fn rebinding_past_max_contacts_replaces_the_oldest_binding() {
    require_sipp!();
    let mut pbx = Pbx::start("[registrar]\nmax_contacts = 2\n");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    for &port in &ports {
        pbx.sipp("register")
            .service("alice")
            .auth("alice", &password("alice"))
            .local_port(port)
            .run()
            .assert_ok("each REGISTER from a new port gets 200");
        // Distinct expiry seconds make "oldest" unambiguous.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let contact = |p: u16| format!("sip:alice@127.0.0.1:{p}");
    let gone = contact(ports[0]);
    let out = wait_registrations(&pbx, |o| {
        !o.contains(&gone) && o.contains(&contact(ports[2]))
    });
    assert!(
        !out.contains(&gone),
        "the oldest binding is replaced in the store:\n{out}"
    );
    for &p in &ports[1..] {
        assert!(out.contains(&contact(p)), "{} bound:\n{out}", contact(p));
    }
    // What the store holds is what a restarted server serves.
    pbx.restart();
    let out = pbx.registrations();
    assert_eq!(out.matches("sip:alice@127.0.0.1:").count(), 2, "{out}");
}
