//! Loader, validator and interpreter costs on the example flows.
//! Not a per-packet path; these numbers size flow reloads and per-call CPU.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ivr::{
    check_source, simulate, Action, Calendar, CallContext, Digit, Event, Interpreter, SimScript,
};

fn fixture(name: &str) -> (std::path::PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ivr")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    (path, text)
}

fn benches(c: &mut Criterion) {
    let (path, text) = fixture("main.toml");
    c.bench_function("check main.toml (parse + validate + WAV headers)", |b| {
        b.iter(|| black_box(check_source(&path, text.as_str())).errors())
    });
    let flow = Arc::new(check_source(&path, text.as_str()).flow.expect("valid"));
    let at = SimScript::parse_at("2026-11-26T10:00").expect("time");
    c.bench_function("interpreter: main menu call to transfer", |b| {
        b.iter(|| {
            let mut call = Interpreter::new(
                Arc::clone(&flow),
                CallContext::default(),
                Calendar::default(),
            );
            call.start(at);
            let mut play = None;
            while let Some(a) = call.poll_action() {
                if let Action::Play { id, .. } = a {
                    play = Some(id);
                }
            }
            if let Some(id) = play {
                call.handle_event(at, Event::PromptFinished { id });
            }
            while call.poll_action().is_some() {}
            call.handle_event(at, Event::Digit(Digit::D1));
            while call.poll_action().is_some() {}
            black_box(call.is_finished())
        })
    });
    let script = SimScript {
        digits: SimScript::parse_digits("7,8,1").expect("digits"),
        at,
        ..SimScript::default()
    };
    c.bench_function("simulate main.toml 7,8,1", |b| {
        b.iter(|| black_box(simulate(Arc::clone(&flow), &script)).stalled)
    });
}

criterion_group!(flow, benches);
criterion_main!(flow);
