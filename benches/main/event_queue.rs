//! `event_queue/*`: the raw cost of the `(time, seq)` event queue.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use drydock_core::SimTime;
use drydock_sim::queue::EventQueue;

/// Pushes `n` events at pseudo-random times ahead of the clock, then pops them all: the queue's
/// share of every simulated event (one push, one pop).
fn push_pop(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue/push_pop");
    for n in [1_000u64, 100_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| {
                let mut q = EventQueue::new();
                let mut x = 0x9E37_79B9_7F4A_7C15u64;
                for i in 0..n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let _ = q.push(SimTime(x % 1_000_000_000), i);
                }
                while let Some(e) = q.pop() {
                    black_box(e);
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, push_pop);
