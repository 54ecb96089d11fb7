//! Parse and print benchmarks for `sip_stack::message`, with the `rsip`
//! crate parsing and printing the same inputs in the same run.
//!
//! Run: `cargo bench -p sip-stack --bench parse -- --warm-up-time 1 --measurement-time 3`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsip::headers::UntypedHeader;
use rsip::prelude::{HeadersExt, ToTypedHeader};
use sip_stack::message::SipMessage;

fn fixture(name: &str) -> Bytes {
    let path = format!("{}/../fixtures/sip/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into()
}

fn inputs() -> Vec<(&'static str, Bytes)> {
    vec![
        ("register", fixture("register_baresip_auth.sip")),
        ("invite", fixture("invite_sdp.sip")),
        ("ok200", fixture("ok_record_route.sip")),
    ]
}

/// The typed values a proxy reads from every message.
fn ours_typed(m: &SipMessage) -> usize {
    match m {
        SipMessage::Request(r) => {
            let via = r.top_via().expect("via");
            let cseq = r.cseq().expect("cseq");
            let n = r.call_id().expect("call-id").len();
            let from = r.from().expect("from");
            let to = r.to().expect("to");
            via.host.len() + cseq.seq as usize + n + from.uri.host.len() + to.uri.host.len()
        }
        SipMessage::Response(r) => {
            let via = r.top_via().expect("via");
            let cseq = r.cseq().expect("cseq");
            let n = r.call_id().expect("call-id").len();
            let from = r.from().expect("from");
            let to = r.to().expect("to");
            via.host.len() + cseq.seq as usize + n + from.uri.host.len() + to.uri.host.len()
        }
    }
}

fn rsip_typed(m: &rsip::SipMessage) -> usize {
    let via = m.via_header().expect("via").typed().expect("via typed");
    let cseq = m.cseq_header().expect("cseq").typed().expect("cseq typed");
    let n = m.call_id_header().expect("call-id").value().len();
    let from = m.from_header().expect("from").typed().expect("from typed");
    let to = m.to_header().expect("to").typed().expect("to typed");
    via.branch().map_or(0, |b| b.to_string().len())
        + cseq.seq as usize
        + n
        + from.uri.host().to_string().len()
        + to.uri.host().to_string().len()
}

fn bench(c: &mut Criterion) {
    for (name, raw) in inputs() {
        let mut g = c.benchmark_group(format!("sip/{name}"));
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse", "ours"), &raw, |b, raw| {
            b.iter(|| SipMessage::parse(black_box(raw.clone())).expect("parses"))
        });
        g.bench_with_input(BenchmarkId::new("parse", "rsip"), &raw, |b, raw| {
            b.iter(|| rsip::SipMessage::try_from(black_box(&raw[..])).expect("rsip parses"))
        });
        g.bench_with_input(BenchmarkId::new("parse+typed", "ours"), &raw, |b, raw| {
            b.iter(|| ours_typed(&SipMessage::parse(black_box(raw.clone())).expect("parses")))
        });
        g.bench_with_input(BenchmarkId::new("parse+typed", "rsip"), &raw, |b, raw| {
            b.iter(|| {
                rsip_typed(&rsip::SipMessage::try_from(black_box(&raw[..])).expect("rsip parses"))
            })
        });
        let ours = SipMessage::parse(raw.clone()).expect("parses");
        let theirs = rsip::SipMessage::try_from(&raw[..]).expect("rsip parses");
        g.bench_function(BenchmarkId::new("print", "ours"), |b| {
            b.iter(|| black_box(&ours).to_bytes())
        });
        g.bench_function(BenchmarkId::new("print", "rsip"), |b| {
            b.iter(|| black_box(&theirs).to_string())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
