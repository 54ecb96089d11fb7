//! End-to-end load benchmarks; see `benches/README.md`.
