//! Tests of the serving runtime: hand-computed golden cases, traffic statistics and
//! properties over random specs and replica histories.

use std::collections::BTreeMap;

use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::{ServiceSpec, TrafficSpec};
use proptest::prelude::*;

use super::*;
use crate::rng::stream;

const HEAD: &str = "apiVersion: drydock/v1alpha1\nkind: Scenario\nmetadata: {name: t}\nspec:\n  cluster:\n    pools:\n      - {name: a100, nodes: 4, gpuModel: A100, gpusPerNode: 8, cpu: \"96\", memory: 1Ti}\n  services:\n";

/// The first service of a scenario whose `services:` list is `yaml`.
fn spec(yaml: &str) -> ServiceSpec {
    let s = drydock_scenarios::load_str(&format!("{HEAD}{yaml}"), "t.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    s.services[0].clone()
}

fn runtime(yaml: &str) -> ServiceRuntime {
    let mut rt = ServiceRuntime::from_spec(&spec(yaml), None, 7).expect("builds");
    rt.record_requests(true);
    rt
}

fn secs(s: f64) -> SimTime {
    SimTime(SimDuration::from_secs_f64(s).0)
}

fn us(s: f64) -> SimDuration {
    SimDuration::from_secs_f64(s)
}

/// The conservation law every test checks.
fn assert_conserved(rt: &ServiceRuntime) {
    let c = rt.counters();
    assert_eq!(
        c.arrived,
        c.completed + c.dropped.total() + c.in_flight,
        "{c:?}"
    );
}

fn generic(service: &str, extra: &str, traffic: &str) -> String {
    format!(
        "    - name: web\n      generic: {{serviceTime: {service}}}\n{extra}      traffic: {traffic}\n"
    )
}

#[test]
fn one_replica_constant_traffic_fixed_service_time_gives_exact_latencies() {
    // Arrivals every 100 ms, service 150 ms, one slot: request k (from 1) starts at
    // 0.1 + 0.15 (k − 1) and ends at 0.1 + 0.15 k, so its latency is 0.1 + 0.05 k seconds.
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 150ms}",
        "",
        "{constant: {rate: 10}}",
    ));
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(1.0));
    let log = rt.take_request_log();
    let got: Vec<(SimTime, SimTime, SimTime)> = log
        .iter()
        .map(|r| (r.arrival, r.start, r.completion))
        .collect();
    let want: Vec<(SimTime, SimTime, SimTime)> = (1..=5)
        .map(|k| {
            let k = f64::from(k);
            (
                secs(0.1 * k),
                secs(0.1 + 0.15 * (k - 1.0)),
                secs(0.1 + 0.15 * k),
            )
        })
        .collect();
    assert_eq!(got, want);
    for (k, r) in log.iter().enumerate() {
        assert_eq!(
            r.completion.since(r.arrival),
            us(0.1 + 0.05 * (k as f64 + 1.0))
        );
    }
    let c = rt.counters();
    // Arrivals at 0.1 … 0.9 and completions up to 0.85 (events at 1.0 are not strictly
    // before 1.0): 9 arrived, 5 done, 4 in flight.
    assert_eq!((c.arrived, c.completed, c.in_flight), (9, 5, 4));
    assert_conserved(&rt);
}

#[test]
fn an_llm_request_alone_gets_ttft_prompt_over_prefill_and_tpot_one_over_single_stream_speed() {
    // One request at 1000 s: 1000 prompt tokens at 8000/s prefill = 125 ms to the first
    // token; 99 more tokens at min(60, 2400/1) = 60 tokens/s = 1.65 s; TPOT = 1/60 s.
    let mut rt = runtime(
        "    - name: chat\n      llm: {prefillTokensPerSecond: 8000, decodeTokensPerSecond: 2400, maxDecodeTokensPerSecondPerSequence: 60, promptTokens: {kind: fixed, value: 1000}, outputTokens: {kind: fixed, value: 100}}\n      traffic: {constant: {rate: 0.001}}\n",
    );
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(1500.0));
    let log = rt.take_request_log();
    assert_eq!(log.len(), 1);
    let r = log[0];
    assert_eq!(r.arrival, secs(1000.0));
    assert_eq!(r.first_token, Some(secs(1000.125)));
    assert_eq!(r.completion, secs(1001.775));
    let s = rt.summary();
    let ttft = s.ttft.expect("ttft");
    let tpot = s.tpot.expect("tpot");
    // Quantiles are within 0.1 % (HdrHistogram, 3 significant digits).
    assert!((ttft.p50.0 as f64 - 125_000.0).abs() <= 125.0, "{ttft:?}");
    assert!((tpot.p50.0 as f64 - 16_667.0).abs() <= 17.0, "{tpot:?}");
    assert_eq!((s.prompt_tokens, s.output_tokens), (1000, 100));
}

#[test]
fn the_aggregate_decode_cap_binds_for_a_single_sequence() {
    // min(single 500, aggregate 100) = 100 tokens/s: 50 decode tokens take 0.5 s.
    let mut rt = runtime(
        "    - name: chat\n      llm: {prefillTokensPerSecond: 1000, decodeTokensPerSecond: 100, maxDecodeTokensPerSecondPerSequence: 500, promptTokens: {kind: fixed, value: 100}, outputTokens: {kind: fixed, value: 51}}\n      traffic: {constant: {rate: 0.5}}\n",
    );
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(3.0));
    let r = rt.take_request_log()[0];
    assert_eq!(r.first_token, Some(secs(2.1)));
    assert_eq!(r.completion, secs(2.6));
}

#[test]
fn two_concurrent_sequences_share_the_aggregate_decode_throughput() {
    // A and B arrive together at 10 s (two identical constant sources; A first by leaf
    // order). Prefills are FIFO: A in [10, 10.1], B in [10.1, 10.2]. A decodes alone at
    // min(60, 100) = 60 tokens/s for 0.1 s (6 tokens), then both at min(60, 100/2) = 50:
    // A's other 94 tokens take 1.88 s (done at 12.08); B has decoded 94 by then and its last
    // 6 take 0.1 s alone at 60 (done at 12.18). TPOT = 1.98 s / 100 for both.
    let mut rt = runtime(
        "    - name: chat\n      llm: {prefillTokensPerSecond: 8000, decodeTokensPerSecond: 100, maxDecodeTokensPerSecondPerSequence: 60, promptTokens: {kind: fixed, value: 800}, outputTokens: {kind: fixed, value: 101}}\n      traffic: {sum: [{constant: {rate: 0.1}}, {constant: {rate: 0.1}}]}\n",
    );
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(15.0));
    let log = rt.take_request_log();
    let got: Vec<(SimTime, Option<SimTime>, SimTime)> = log
        .iter()
        .map(|r| (r.arrival, r.first_token, r.completion))
        .collect();
    assert_eq!(
        got,
        [
            (secs(10.0), Some(secs(10.1)), secs(12.08)),
            (secs(10.0), Some(secs(10.2)), secs(12.18)),
        ]
    );
    for r in &log {
        let tpot = r.completion.since(r.first_token.expect("llm")).0 / 100;
        assert_eq!(tpot, 19_800);
    }
}

#[test]
fn max_num_seqs_holds_back_the_third_sequence_until_one_finishes() {
    // maxNumSeqs 2; three requests arrive at 10 s; each has 0 prompt tokens (instant
    // prefill) and 11 output tokens (10 decode tokens). A and B decode at 100/2 = 50 tokens/s
    // and finish at 10.2 s; C is admitted then and decodes alone at min(60, 100) = 60: 10
    // tokens in 1/6 s (166,667 µs, rounded up).
    let mut rt = runtime(
        "    - name: chat\n      llm: {maxNumSeqs: 2, prefillTokensPerSecond: 8000, decodeTokensPerSecond: 100, maxDecodeTokensPerSecondPerSequence: 60, promptTokens: {kind: fixed, value: 0}, outputTokens: {kind: fixed, value: 11}}\n      traffic: {sum: [{constant: {rate: 0.1}}, {constant: {rate: 0.1}}, {constant: {rate: 0.1}}]}\n",
    );
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(10.1));
    assert_eq!(rt.replica_counters(0).expect("ready").in_flight, 3);
    rt.advance_to(secs(15.0));
    let log = rt.take_request_log();
    let got: Vec<(SimTime, SimTime)> = log.iter().map(|r| (r.start, r.completion)).collect();
    assert_eq!(
        got,
        [
            (secs(10.0), secs(10.2)),
            (secs(10.0), secs(10.2)),
            (secs(10.2), SimTime(10_366_667)),
        ]
    );
}

#[test]
fn a_full_queue_drops_arrivals() {
    // One slot, queue of 1, service 1 s, arrivals every 100 ms: the first is served, the
    // second waits, the next eight (0.3 … 1.0 s) find the queue full.
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 1s}",
        "      queue: {capacity: 1}\n",
        "{constant: {rate: 10}}",
    ));
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(1.05));
    let c = rt.counters();
    assert_eq!(
        (c.arrived, c.completed, c.in_flight, c.dropped.queue_full),
        (10, 0, 2, 8)
    );
    assert_eq!(c.dropped.total(), 8);
    assert_conserved(&rt);
}

#[test]
fn requests_waiting_past_the_timeout_are_dropped() {
    // One slot busy until 1.1 s; requests 2 … 5 (arrived 0.2 … 0.5) reach their 0.5 s
    // deadline at 0.7 … 1.0 s still waiting.
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 1s}",
        "      queue: {capacity: 10, timeout: 500ms}\n",
        "{constant: {rate: 10}}",
    ));
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(1.05));
    let c = rt.counters();
    assert_eq!((c.arrived, c.dropped.timeout, c.in_flight), (10, 4, 6));
    assert_conserved(&rt);
    // Request 6 (arrived 0.6 s) starts at 1.1 s, exactly at its deadline: served, not dropped.
    rt.advance_to(secs(1.15));
    let c = rt.counters();
    assert_eq!((c.completed, c.dropped.timeout), (1, 4));
    assert_eq!(rt.take_request_log()[0].arrival, secs(0.1));
    rt.advance_to(secs(2.15));
    assert_eq!(rt.take_request_log()[0].arrival, secs(0.6));
}

#[test]
fn losing_a_replica_drops_what_it_holds_and_a_graceful_removal_finishes_it() {
    let yaml = generic(
        "{kind: fixed, value: 1s}",
        "      queue: {capacity: 100, timeout: 1h}\n",
        "{constant: {rate: 10}}",
    );
    let mut rt = runtime(&yaml);
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(0.55));
    // 5 arrivals: 1 in service, 4 queued.
    assert_eq!(rt.replica_counters(0).expect("ready").in_flight, 5);
    rt.replica_removed(0, secs(0.55), false);
    let c = rt.counters();
    assert_eq!(
        (c.dropped.replica_lost, c.in_flight, c.ready_replicas),
        (5, 0, 0)
    );
    assert_eq!(rt.replica_counters(0), None);
    assert_conserved(&rt);

    let mut rt = runtime(&yaml);
    rt.replica_ready(0, SimTime::ZERO);
    rt.replica_ready(1, SimTime::ZERO);
    rt.advance_to(secs(0.55));
    // Least outstanding: 0.1 → r0, 0.2 → r1, 0.3 → r0 (tie, lowest id), 0.4 → r1, 0.5 → r0.
    assert_eq!(rt.replica_counters(0).expect("ready").in_flight, 3);
    rt.replica_removed(0, secs(0.55), true);
    rt.advance_to(secs(3.15));
    let c = rt.counters();
    assert_eq!(c.dropped.total(), 0);
    // r0 served its three (done 1.1, 2.1, 3.1) and is gone; r1 got everything after 0.5 s.
    let log = rt.take_request_log();
    let on0: Vec<SimTime> = log
        .iter()
        .filter(|r| r.replica == 0)
        .map(|r| r.completion)
        .collect();
    assert_eq!(on0, [secs(1.1), secs(2.1), secs(3.1)]);
    assert!(
        log.iter()
            .filter(|r| r.replica == 0)
            .all(|r| r.arrival <= secs(0.5))
    );
    assert_eq!(rt.replica_counters(0), None, "drained and gone");
    assert_eq!(rt.ready_replicas(), [1]);
    assert_conserved(&rt);
}

#[test]
fn without_endpoints_requests_wait_at_the_gateway_then_go_to_the_first_ready_replica() {
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 10ms}",
        "      queue: {capacity: 3, timeout: 250ms}\n",
        "{constant: {rate: 10}}",
    ));
    rt.advance_to(secs(0.45));
    // 0.1, 0.2, 0.3, 0.4 arrived; 0.1 timed out at 0.35; capacity 3 holds the rest.
    let c = rt.counters();
    assert_eq!(
        (c.arrived, c.dropped.no_endpoint, c.waiting_for_endpoint),
        (4, 1, 3)
    );
    rt.replica_ready(5, secs(0.45));
    assert_eq!(rt.counters().waiting_for_endpoint, 0);
    rt.advance_to(secs(0.5));
    let log = rt.take_request_log();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.replica == 5 && r.start >= secs(0.45)));
    assert_conserved(&rt);
}

#[test]
fn round_robin_takes_ready_replicas_in_id_order() {
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 10s}",
        "      loadBalancing: round-robin\n      queue: {capacity: 100}\n",
        "{constant: {rate: 10}}",
    ));
    for id in [7, 3, 5] {
        rt.replica_ready(id, SimTime::ZERO);
    }
    rt.advance_to(secs(0.75));
    let got: Vec<u64> = [3, 5, 7]
        .iter()
        .map(|&id| rt.replica_counters(id).expect("ready").arrived)
        .collect();
    // 7 arrivals: 3, 5, 7, 3, 5, 7, 3.
    assert_eq!(got, [3, 2, 2]);
    assert_eq!(rt.ready_replicas(), [3, 5, 7]);
}

#[test]
fn busy_time_counts_only_time_with_a_request_in_service() {
    // Service 50 ms every 100 ms: busy half the time.
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 50ms}",
        "",
        "{constant: {rate: 10}}",
    ));
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(10.0));
    let r = rt.replica_counters(0).expect("ready");
    // 99 complete services (arrivals 0.1 … 9.9), the last ends at 9.95.
    assert_eq!((r.arrived, r.completed), (99, 99));
    assert_eq!(r.busy, SimDuration::from_secs_f64(99.0 * 0.05));
}

#[test]
fn slo_attainment_counts_drops_as_misses() {
    // Latencies 0.15, 0.2, 0.25, … (see the first test); SLO 0.2 s met by the first two;
    // then the queue (capacity 1) overflows.
    let mut rt = runtime(&generic(
        "{kind: fixed, value: 150ms}",
        "      queue: {capacity: 1}\n      slo: {latency: 200ms}\n",
        "{constant: {rate: 10}}",
    ));
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(1.0));
    let s = rt.take_interval_stats();
    let finished = s.completed + s.dropped.total();
    assert!(finished > 2);
    assert_eq!(s.slo_met, 2);
    assert_eq!(s.slo_attainment, Some(2.0 / finished as f64));
    assert_eq!((s.start, s.end), (SimTime::ZERO, secs(1.0)));
    let next = rt.take_interval_stats();
    assert_eq!((next.arrived, next.start), (0, secs(1.0)));
    assert_eq!(rt.summary().slo_met, 2);
}

#[test]
fn the_runtime_can_live_in_an_ecs_resource() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<ServiceRuntime>();
    send_sync::<Traffic>();
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let yaml = "    - name: chat\n      llm: {maxNumSeqs: 8, prefillTokensPerSecond: 4000, decodeTokensPerSecond: 800, maxDecodeTokensPerSecondPerSequence: 40, promptTokens: {kind: log-normal, median: 500, p95: 3000}, outputTokens: {kind: exponential, mean: 150}}\n      queue: {capacity: 20, timeout: 10s}\n      traffic: {gamma: {rate: 12, cv: 2}}\n";
    let run = || {
        let mut rt = ServiceRuntime::from_spec(&spec(yaml), None, 3).expect("builds");
        rt.replica_ready(0, SimTime::ZERO);
        rt.replica_ready(1, secs(30.0));
        rt.advance_to(secs(300.0));
        rt.replica_removed(0, secs(300.0), false);
        rt.advance_to(secs(600.0));
        serde_json::to_string(&rt.summary()).expect("json")
    };
    assert_eq!(run(), run());
}

/// Mean latency in seconds of the requests completed by `until` seconds.
fn mean_latency(yaml: &str, until: f64) -> (f64, usize) {
    let mut rt = runtime(yaml);
    rt.replica_ready(0, SimTime::ZERO);
    rt.advance_to(secs(until));
    let log = rt.take_request_log();
    let sum: f64 = log
        .iter()
        .map(|r| r.completion.since(r.arrival).as_secs_f64())
        .sum();
    (sum / log.len() as f64, log.len())
}

#[test]
fn the_generic_model_matches_the_m_d_1_queue() {
    // Poisson 5/s, fixed 100 ms, one slot: ρ = 0.5 and, by Pollaczek–Khinchine,
    // E[wait] = ρ·S / (2 (1 − ρ)) = 50 ms, so E[latency] = 150 ms.
    let (mean, n) = mean_latency(
        &generic(
            "{kind: fixed, value: 100ms}",
            "      queue: {capacity: 100000, timeout: 1h}\n",
            "{poisson: {rate: 5}}",
        ),
        40_000.0,
    );
    assert!(n > 190_000, "{n}");
    assert!((mean - 0.150).abs() < 0.150 * 0.03, "mean latency {mean}");
}

#[test]
fn llm_decoding_matches_the_m_g_1_processor_sharing_queue() {
    // No prompt (instant prefill), 100 decode tokens at an aggregate 1,000 tokens/s shared by
    // every decoding sequence (no per-sequence cap): an M/G/1 processor-sharing queue with
    // S = 0.1 s and ρ = 0.5, whose mean response time is S / (1 − ρ) = 0.2 s.
    let (mean, n) = mean_latency(
        "    - name: chat\n      llm: {maxNumSeqs: 100000, prefillTokensPerSecond: 8000, decodeTokensPerSecond: 1000, promptTokens: {kind: fixed, value: 0}, outputTokens: {kind: fixed, value: 101}}\n      traffic: {poisson: {rate: 5}}\n",
        40_000.0,
    );
    assert!(n > 190_000, "{n}");
    assert!((mean - 0.2).abs() < 0.2 * 0.03, "mean latency {mean}");
}

// ---- traffic ----------------------------------------------------------------------------

fn arrivals(spec: &TrafficSpec, until: f64, seed: u64) -> Vec<Arrival> {
    let mut t = Traffic::new(spec, None, stream(seed, "test")).expect("builds");
    let mut out = Vec::new();
    while let Some(a) = t.next_arrival() {
        if a.time >= secs(until) {
            break;
        }
        out.push(a);
    }
    out
}

fn traffic(yaml: &str) -> TrafficSpec {
    spec(&generic("{kind: fixed, value: 1s}", "", yaml)).traffic
}

fn count_in(a: &[Arrival], from: f64, to: f64) -> usize {
    a.iter()
        .filter(|x| x.time >= secs(from) && x.time < secs(to))
        .count()
}

#[test]
fn poisson_traffic_has_its_rate_and_exponential_gaps() {
    let a = arrivals(&traffic("{poisson: {rate: 50}}"), 2000.0, 1);
    let n = a.len() as f64;
    // 100,000 expected; the standard deviation is 316.
    assert!((n - 100_000.0).abs() < 1_500.0, "{n}");
    let gaps: Vec<f64> = a
        .windows(2)
        .map(|w| w[1].time.since(w[0].time).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    let cv = var.sqrt() / mean;
    assert!((cv - 1.0).abs() < 0.02, "cv {cv}");
}

#[test]
fn constant_traffic_is_evenly_spaced() {
    let a = arrivals(&traffic("{constant: {rate: 4}}"), 2.0, 1);
    let t: Vec<SimTime> = a.iter().map(|x| x.time).collect();
    assert_eq!(
        t,
        [
            secs(0.25),
            secs(0.5),
            secs(0.75),
            secs(1.0),
            secs(1.25),
            secs(1.5),
            secs(1.75)
        ]
    );
}

#[test]
fn diurnal_traffic_peaks_at_its_peak_hour() {
    // mean 20, amplitude 10: 30/s around 14h, 10/s around 2h.
    let a = arrivals(
        &traffic("{diurnal: {mean: 20, amplitude: 10}}"),
        86_400.0,
        2,
    );
    let peak = count_in(&a, 13.5 * 3600.0, 14.5 * 3600.0) as f64 / 3600.0;
    let trough = count_in(&a, 1.5 * 3600.0, 2.5 * 3600.0) as f64 / 3600.0;
    // Hour averages of the sinusoid: 20 ± 10·sinc(π/24) ≈ 29.97 and 10.03.
    assert!((peak - 29.97).abs() < 0.5, "{peak}");
    assert!((trough - 10.03).abs() < 0.3, "{trough}");
    let day = a.len() as f64 / 86_400.0;
    assert!((day - 20.0).abs() < 0.1, "{day}");
}

#[test]
fn a_spike_multiplies_the_rate_of_what_it_wraps_during_its_hold() {
    let a = arrivals(
        &traffic(
            "{spike: {at: 1000s, rampUp: 100s, hold: 1000s, rampDown: 100s, multiplier: 5, of: {poisson: {rate: 20}}}}",
        ),
        3000.0,
        3,
    );
    let before = count_in(&a, 0.0, 1000.0) as f64 / 1000.0;
    let hold = count_in(&a, 1100.0, 2100.0) as f64 / 1000.0;
    let ramp = count_in(&a, 1000.0, 1100.0) as f64 / 100.0;
    let after = count_in(&a, 2200.0, 3000.0) as f64 / 800.0;
    assert!((before - 20.0).abs() < 1.0, "{before}");
    assert!((hold - 100.0).abs() < 2.0, "{hold}");
    // The ramp averages (1 + 5) / 2 = 3x.
    assert!((ramp - 60.0).abs() < 5.0, "{ramp}");
    assert!((after - 20.0).abs() < 1.2, "{after}");
}

#[test]
fn scale_shift_and_steps_compose() {
    let a = arrivals(
        &traffic(
            "{shift: {by: 100s, of: {scale: {factor: 0.5, of: {steps: [{at: 0s, rate: 10}, {at: 500s, rate: 40}]}}}}}",
        ),
        1100.0,
        4,
    );
    assert_eq!(count_in(&a, 0.0, 100.0), 0, "shifted by 100 s");
    let low = count_in(&a, 100.0, 600.0) as f64 / 500.0;
    let high = count_in(&a, 600.0, 1100.0) as f64 / 500.0;
    assert!((low - 5.0).abs() < 0.5, "{low}");
    assert!((high - 20.0).abs() < 1.0, "{high}");
}

#[test]
fn gamma_traffic_has_its_rate_and_burstiness() {
    let a = arrivals(&traffic("{gamma: {rate: 10, cv: 3}}"), 20_000.0, 5);
    let gaps: Vec<f64> = a
        .windows(2)
        .map(|w| w[1].time.since(w[0].time).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    assert!((mean - 0.1).abs() < 0.005, "mean {mean}");
    assert!(
        (var.sqrt() / mean - 3.0).abs() < 0.2,
        "cv {}",
        var.sqrt() / mean
    );
}

#[test]
fn mmpp_traffic_averages_its_state_rates_by_time_share() {
    // (2·60 + 40·20) / 80 = 11.5 per second.
    let a = arrivals(
        &traffic("{mmpp: {rates: [2, 40], meanDurations: [60s, 20s]}}"),
        200_000.0,
        6,
    );
    let rate = a.len() as f64 / 200_000.0;
    assert!((rate - 11.5).abs() < 0.3, "{rate}");
}

#[test]
fn replay_keeps_the_trace_clock_tokens_and_window_and_repeats() {
    let dir = std::env::temp_dir().join(format!("drydock-serving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    std::fs::write(
        dir.join("t.csv"),
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:00.0,10,1\n2023-11-16 18:00:01.0,20,2\n2023-11-16 18:00:03.0,30,3\n2023-11-16 18:00:04.0,40,4\n",
    )
    .expect("write");
    let spec = traffic(
        "{replay: {format: azure-llm, path: t.csv, start: 1s, end: 4s, timeScale: 2, repeat: true}}",
    );
    let mut t = Traffic::new(&spec, Some(&dir), stream(1, "x")).expect("builds");
    let got: Vec<(SimTime, Option<(u32, u32)>)> = (0..5)
        .filter_map(|_| t.next_arrival())
        .map(|a| (a.time, a.tokens))
        .collect();
    // Window [1 s, 4 s) keeps records at 1 s and 3 s, at 0 and 4 s after time scaling; the
    // span is (4 − 1)·2 = 6 s.
    assert_eq!(
        got,
        [
            (secs(0.0), Some((20, 2))),
            (secs(4.0), Some((30, 3))),
            (secs(6.0), Some((20, 2))),
            (secs(10.0), Some((30, 3))),
            (secs(12.0), Some((20, 2))),
        ]
    );
    // A 3x spike over the replay adds two copies of each record between it and the next.
    let spiked = traffic(
        "{spike: {at: 0s, hold: 1h, multiplier: 3, of: {replay: {format: azure-llm, path: t.csv}}}}",
    );
    let mut t = Traffic::new(&spiked, Some(&dir), stream(1, "x")).expect("builds");
    let got: Vec<Arrival> = std::iter::from_fn(|| t.next_arrival()).collect();
    assert_eq!(got.len(), 12);
    assert!(got.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(got.iter().filter(|a| a.tokens == Some((30, 3))).count(), 3);
    let missing = Traffic::new(&spec, Some(&dir.join("nope")), stream(1, "x"));
    assert!(matches!(missing, Err(SimError::Trace(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_injected_spike_multiplies_the_whole_traffic_for_its_duration() {
    let spec = traffic("{sum: [{poisson: {rate: 10}}, {constant: {rate: 10}}]}");
    let mut t = Traffic::new(&spec, None, stream(9, "x")).expect("builds");
    let mut a = Vec::new();
    while let Some(x) = t.next_arrival() {
        a.push(x);
        if x.time >= secs(100.0) {
            break;
        }
    }
    t.inject_spike(secs(100.0), 4.0, SimDuration::from_secs(100));
    while let Some(x) = t.next_arrival() {
        if x.time >= secs(300.0) {
            break;
        }
        a.push(x);
    }
    let during = count_in(&a, 100.0, 200.0) as f64 / 100.0;
    let after = count_in(&a, 200.0, 300.0) as f64 / 100.0;
    assert!((during - 80.0).abs() < 4.0, "{during}");
    assert!((after - 20.0).abs() < 2.0, "{after}");
}

#[test]
fn traffic_with_no_more_arrivals_ends() {
    let a = arrivals(
        &traffic("{steps: [{at: 0s, rate: 5}, {at: 10s, rate: 0}]}"),
        1e9,
        1,
    );
    assert!(a.len() > 20 && a.len() < 80);
    assert!(a.iter().all(|x| x.time < secs(10.0)));
    assert!(
        arrivals(
            &traffic("{scale: {factor: 0, of: {poisson: {rate: 5}}}}"),
            1e9,
            1
        )
        .is_empty()
    );
}

// ---- properties -------------------------------------------------------------------------

/// One engine call in a random replica history.
#[derive(Debug, Clone)]
enum Op {
    Ready(u32),
    Remove(u32, bool),
    Advance(u64),
    Spike(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..6).prop_map(Op::Ready),
        2 => (0u32..6, any::<bool>()).prop_map(|(r, g)| Op::Remove(r, g)),
        6 => (1u64..20_000_000).prop_map(Op::Advance),
        1 => (1u32..8).prop_map(Op::Spike),
    ]
}

fn service_yaml() -> impl Strategy<Value = String> {
    let llm = (1u32..16, 100u32..20_000, 50u32..5_000, 5u32..200, 1u32..3000, 1u32..500).prop_map(
        |(seqs, pre, agg, single, prompt, out)| {
            format!(
                "llm: {{maxNumSeqs: {seqs}, prefillTokensPerSecond: {pre}, decodeTokensPerSecond: {agg}, maxDecodeTokensPerSecondPerSequence: {single}, promptTokens: {{kind: uniform, min: 0, max: {prompt}}}, outputTokens: {{kind: exponential, mean: {out}}}}}"
            )
        },
    );
    let generic = (1u32..8, 1u32..2000).prop_map(|(c, ms)| {
        format!("generic: {{concurrency: {c}, serviceTime: {{kind: exponential, mean: {ms}ms}}}}")
    });
    (
        prop_oneof![llm, generic],
        0u32..20,
        1u32..5000,
        1u32..500,
        any::<bool>(),
    )
        .prop_map(|(model, cap, timeout_ms, rate, rr)| {
            let lb = if rr { "round-robin" } else { "least-outstanding" };
            format!(
                "    - name: p\n      {model}\n      loadBalancing: {lb}\n      queue: {{capacity: {cap}, timeout: {timeout_ms}ms}}\n      slo: {{latency: 2s}}\n      traffic: {{gamma: {{rate: {rate}, cv: 2}}}}\n"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// No request is lost: at every moment `arrived = completed + dropped + in flight`, and in
    /// flight equals what the replicas and the service-level queue hold. Only Ready replicas
    /// receive requests (every served request started on a replica after it became Ready and
    /// before it left); no replica ever runs more than `maxNumSeqs`/`concurrency` requests at
    /// once; TTFT ≤ latency.
    #[test]
    fn no_request_is_lost_and_replicas_respect_their_limits(
        yaml in service_yaml(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let s = spec(&yaml);
        let slots = match &s.model {
            drydock_scenarios::ServingModel::Llm(l) => l.max_num_seqs,
            drydock_scenarios::ServingModel::Generic(g) => g.concurrency,
        };
        let mut rt = ServiceRuntime::from_spec(&s, None, 11).expect("builds");
        rt.record_requests(true);
        let mut now = SimTime::ZERO;
        // Replica id → the times it was Ready, as [from, to) intervals.
        let mut ready: BTreeMap<u32, Vec<(SimTime, SimTime)>> = BTreeMap::new();
        let check = |rt: &ServiceRuntime| -> Result<(), TestCaseError> {
            let c = rt.counters();
            prop_assert_eq!(c.arrived, c.completed + c.dropped.total() + c.in_flight);
            let held: u64 = rt.replicas.iter().flatten().map(Replica::in_flight).sum();
            prop_assert_eq!(c.in_flight, held + rt.gateway.len() as u64);
            for r in rt.replicas.iter().flatten() {
                prop_assert!(r.admitted <= slots, "{} admitted > {}", r.admitted, slots);
                prop_assert!(r.queue.len() <= s.queue.capacity as usize);
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::Ready(id) => {
                    if !rt.by_id.contains_key(&id) {
                        ready.entry(id).or_default().push((now, SimTime::MAX));
                    }
                    rt.replica_ready(id, now);
                }
                Op::Remove(id, graceful) => {
                    if let Some(iv) = ready.get_mut(&id).and_then(|v| v.last_mut())
                        && iv.1 == SimTime::MAX
                    {
                        iv.1 = now;
                    }
                    rt.replica_removed(id, now, graceful);
                }
                Op::Advance(d) => {
                    now = now.saturating_add(SimDuration(d));
                    rt.advance_to(now);
                }
                // Sometimes starting in the past: the runtime starts it now.
                Op::Spike(m) => rt.inject_spike(
                    SimTime(now.0.saturating_sub(u64::from(m % 3) * 1_000_000)),
                    f64::from(m),
                    SimDuration::from_secs(5),
                ),
            }
            check(&rt)?;
            if let Some(t) = rt.next_event_time() {
                prop_assert!(t >= now, "an event in the past");
            }
        }
        for r in rt.take_request_log() {
            let was_ready = ready
                .get(&r.replica)
                .is_some_and(|v| v.iter().any(|(a, b)| r.arrival <= *b && r.start >= *a));
            prop_assert!(was_ready, "request started on replica {} while not Ready: {:?}", r.replica, r);
            prop_assert!(r.start >= r.arrival && r.completion >= r.start);
            if let Some(ft) = r.first_token {
                prop_assert!(ft >= r.start && ft <= r.completion);
            }
        }
        let sum = rt.summary();
        if let (Some(t), Some(l)) = (sum.ttft, sum.latency) {
            prop_assert!(t.max <= l.max);
        }
    }
}
