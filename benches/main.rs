//! drydock's criterion benchmarks: one binary, one module per area (see BENCHMARKS.md).
#![allow(missing_docs)]

use criterion::criterion_main;

#[path = "main/event_queue.rs"]
mod event_queue;
#[path = "main/serving.rs"]
mod serving;
#[path = "main/stress.rs"]
mod stress;
#[path = "main/traces.rs"]
mod traces;
#[path = "main/tui_render.rs"]
mod tui_render;

criterion_main!(
    event_queue::benches,
    serving::benches,
    stress::benches,
    traces::benches,
    tui_render::benches
);
