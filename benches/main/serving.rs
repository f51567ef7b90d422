//! `serving/*`: the request-level serving runtime (`drydock_sim::serving`).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use drydock_core::SimTime;
use drydock_sim::serving::ServiceRuntime;

/// An LLM service at a realistic load: 8 replicas (64 sequences each, prefill 8,000 tokens/s,
/// decode 2,400 tokens/s aggregate and 60 per sequence), log-normal prompts (median 1,000,
/// p95 4,000 tokens) and outputs (median 200, p95 800), Poisson arrivals at 40 requests/s
/// (about 80 % of the replicas' prefill capacity). Measures simulated requests per second of
/// wall time: each iteration simulates from an empty service until 200,000 requests have
/// arrived (arrivals, admissions, prefills, decode completions, statistics).
fn llm(c: &mut Criterion) {
    const REQUESTS: u64 = 200_000;
    let yaml = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: bench}\nspec:\n  cluster:\n    pools:\n      - {name: a100, nodes: 8, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}\n  services:\n    - name: chat\n      llm: {maxNumSeqs: 64, prefillTokensPerSecond: 8000, decodeTokensPerSecond: 2400, maxDecodeTokensPerSecondPerSequence: 60, promptTokens: {kind: log-normal, median: 1000, p95: 4000}, outputTokens: {kind: log-normal, median: 200, p95: 800}}\n      queue: {capacity: 256, timeout: 30s}\n      slo: {latency: 20s, ttft: 2s, tpot: 100ms}\n      traffic: {poisson: {rate: 40}}\n";
    let spec = drydock_scenarios::load_str(yaml, "bench.yaml")
        .expect("valid")
        .services
        .remove(0);
    let mut g = c.benchmark_group("serving/llm");
    g.throughput(Throughput::Elements(REQUESTS));
    g.sample_size(10);
    g.bench_function(BenchmarkId::from_parameter("8-replicas-poisson"), |b| {
        b.iter_batched(
            || {
                let mut rt = ServiceRuntime::from_spec(&spec, None, 42).expect("builds");
                for r in 0..8 {
                    rt.replica_ready(r, SimTime::ZERO);
                }
                rt
            },
            |mut rt| {
                let mut t = SimTime::ZERO;
                while rt.counters().arrived < REQUESTS {
                    t = SimTime(t.0 + 10_000_000);
                    rt.advance_to(t);
                }
                black_box(rt.summary())
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, llm);
