//! Fuzzes the flow loader and validator; any accepted flow is also run in the
//! simulator with a fixed script. `cargo fuzz run load_flow` from `ivr/`.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let checked = ivr::check_source("fuzz/flow.toml", text);
    for d in &checked.diagnostics {
        let _ = d.render_snippet(&checked.source);
    }
    if let Some(flow) = checked.flow {
        let flow = Arc::new(flow);
        let _ = ivr::render(&flow, ivr::RenderFormat::Dot);
        let _ = ivr::render(&flow, ivr::RenderFormat::Mermaid);
        let script = ivr::SimScript {
            digits: ivr::SimScript::parse_digits("1,2#,-,123456#").unwrap_or_default(),
            ..ivr::SimScript::default()
        };
        let _ = ivr::simulate(flow, &script);
    }
});
