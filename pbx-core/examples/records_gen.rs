//! Fills a store with synthetic call records for the records API bench
//! (`benches/records_api.sh`): `records_gen DB_PATH [RECORDS] [DAYS]` writes
//! RECORDS records (default 1,000,000) spread evenly over the last DAYS
//! days (default 30), with their legs, queue events and recording states.

use std::time::Instant;

use pbx_core::store::synthetic::{generate, SyntheticSpec};
use pbx_core::store::Store;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(db) = args.next() else {
        eprintln!("usage: records_gen DB_PATH [RECORDS] [DAYS]");
        std::process::exit(2);
    };
    let records: u64 = args
        .next()
        .map_or(1_000_000, |v| v.parse().expect("RECORDS: a number"));
    let days: u64 = args
        .next()
        .map_or(30, |v| v.parse().expect("DAYS: a number"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    let span = days.max(1) * 86_400_000;
    let mut store = Store::open(std::path::Path::new(&db)).expect("open store");
    let started = Instant::now();
    let spec = SyntheticSpec {
        records,
        first_start_ms: now - span,
        spacing_ms: (span / records.max(1)).max(1),
        agents: 200,
        queues: 5,
        customers: 200_000,
        seed: 7,
    };
    generate(&mut store, &spec, |n| {
        if n % 100_000 == 0 {
            eprintln!("{n} records, {:.0} s", started.elapsed().as_secs_f64());
        }
    })
    .expect("generate");
    eprintln!(
        "{records} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
