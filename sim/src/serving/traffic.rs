//! Arrival generation from a [`TrafficSpec`] tree.
//!
//! The tree is flattened at build time into *leaves*, each a source with its own state, a time
//! offset (the sum of the `shift`s above it) and the rate multipliers above it (`scale`
//! factors and `spike` trapezoids, in absolute time). The leaves' next arrivals are merged in
//! `(time, leaf order)` order, so the superposition (`sum`) is exact and deterministic.
//!
//! How a leaf applies its multiplier `m(t)` (see [`TrafficSpec`] for the user-facing rules):
//! * Poisson-type leaves (`poisson`, `diurnal`, `steps`, `mmpp`) draw a non-homogeneous
//!   Poisson process of intensity `m(t)·λ(t)` by thinning (Lewis and Shedler, 1979) against a
//!   bound that is tight on a short window (the window ends at every breakpoint of `m`, every
//!   step and every MMPP state change), so almost every candidate is accepted.
//! * Renewal leaves (`constant`, `gamma`) draw the next gap in their own clock and divide it by
//!   `m` at the current time (forward Euler on the time change; exact while `m` is constant
//!   over the gap).
//! * `replay` leaves thin records when `m < 1` and add copies when `m > 1` (see
//!   [`TrafficSpec`]).
//!
//! All randomness comes from the one generator given to [`Traffic::new`], drawn in a fixed
//! order, so the same spec and seed give the same arrivals.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use drydock_core::rng::unit_f64;
use drydock_core::{SimDuration, SimTime};
use drydock_scenarios::trace::{read_azure_llm, read_timestamps};
use drydock_scenarios::{ReplayFormat, ReplaySpec, SpikeSpec, TrafficSpec, spike_multiplier};
use rand_core::Rng;
use rand_pcg::Pcg64;

use crate::SimError;
use crate::dist::{exponential_secs, standard_normal};

/// One request arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrives.
    pub time: SimTime,
    /// `(prompt, output)` tokens when the source carries them (an `azure-llm` replay);
    /// `None` for synthetic sources (the service draws them).
    pub tokens: Option<(u32, u32)>,
}

/// Arrival times beyond this many seconds (about 31,700 years) are never generated.
const MAX_SECS: f64 = 1e12;

/// A rate multiplier over absolute time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Modulator {
    Scale(f64),
    Spike {
        at: SimTime,
        up: SimDuration,
        hold: SimDuration,
        down: SimDuration,
        mult: f64,
    },
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

fn to_time(s: f64) -> SimTime {
    SimTime(SimDuration::from_secs_f64(s).0)
}

impl Modulator {
    fn at(&self, t: f64) -> f64 {
        match *self {
            Modulator::Scale(f) => f,
            Modulator::Spike {
                at,
                up,
                hold,
                down,
                mult,
            } => spike_multiplier(to_time(t), at, up, hold, down, mult),
        }
    }

    /// The largest value over `[a, b]` (the trapezoid is monotone between its corners).
    fn max_over(&self, a: f64, b: f64) -> f64 {
        match *self {
            Modulator::Scale(f) => f,
            Modulator::Spike {
                at, up, hold, mult, ..
            } => {
                let edge = self.at(a).max(self.at(b));
                let top0 = secs(at) + up.as_secs_f64();
                let top1 = top0 + hold.as_secs_f64();
                if mult > 1.0 && a <= top1 && b >= top0 {
                    mult.max(edge)
                } else {
                    edge
                }
            }
        }
    }

    /// The first corner strictly after `t`, if any.
    fn next_break(&self, t: f64) -> Option<f64> {
        match *self {
            Modulator::Scale(_) => None,
            Modulator::Spike {
                at, up, hold, down, ..
            } => {
                let c0 = secs(at);
                let c1 = c0 + up.as_secs_f64();
                let c2 = c1 + hold.as_secs_f64();
                let c3 = c2 + down.as_secs_f64();
                [c0, c1, c2, c3].into_iter().find(|&c| c > t)
            }
        }
    }

    fn is_zero_forever(&self) -> bool {
        matches!(self, Modulator::Scale(f) if *f == 0.0)
    }
}

/// The product of a leaf's multipliers and the injected spikes.
struct Modulation<'a> {
    own: &'a [Modulator],
    injected: &'a [Modulator],
}

impl Modulation<'_> {
    fn all(&self) -> impl Iterator<Item = &Modulator> {
        self.own.iter().chain(self.injected.iter())
    }
    fn at(&self, t: f64) -> f64 {
        self.all().map(|m| m.at(t)).product()
    }
    fn max_over(&self, a: f64, b: f64) -> f64 {
        self.all().map(|m| m.max_over(a, b)).product()
    }
    fn next_break(&self, t: f64) -> f64 {
        self.all()
            .filter_map(|m| m.next_break(t))
            .fold(f64::INFINITY, f64::min)
    }
    fn is_zero_forever(&self) -> bool {
        self.own.iter().any(Modulator::is_zero_forever)
    }
}

/// A Poisson-type intensity `λ(t)` (before multipliers), `t` in seconds since the leaf's
/// origin.
#[derive(Debug, Clone)]
enum Intensity {
    Constant(f64),
    Diurnal {
        mean: f64,
        amplitude: f64,
        period: f64,
        peak: f64,
    },
    Steps {
        steps: Vec<(f64, f64)>,
    },
    Mmpp {
        rates: [f64; 2],
        means: [f64; 2],
        state: usize,
        switch_at: f64,
    },
}

impl Intensity {
    fn at(&self, t: f64) -> f64 {
        match self {
            Intensity::Constant(r) => *r,
            Intensity::Diurnal {
                mean,
                amplitude,
                period,
                peak,
            } => mean + amplitude * (std::f64::consts::TAU * (t - peak) / period).cos(),
            Intensity::Steps { steps } => steps
                .iter()
                .rev()
                .find(|(at, _)| *at <= t)
                .map_or(0.0, |(_, r)| *r),
            Intensity::Mmpp { rates, state, .. } => rates[*state],
        }
    }

    /// The largest value over `[a, b]`.
    fn max_over(&self, a: f64, b: f64) -> f64 {
        match self {
            Intensity::Diurnal {
                mean,
                amplitude,
                period,
                peak,
            } => {
                // A peak instant peak + k·period inside [a, b]?
                let k = ((a - peak) / period).ceil();
                if peak + k * period <= b {
                    mean + amplitude
                } else {
                    self.at(a).max(self.at(b))
                }
            }
            // Constant between breaks (the window never crosses a step or a state change).
            _ => self.at(a),
        }
    }

    /// The next time strictly after `t` at which the intensity jumps.
    fn next_break(&self, t: f64) -> f64 {
        match self {
            Intensity::Steps { steps } => steps
                .iter()
                .map(|(at, _)| *at)
                .find(|&at| at > t)
                .unwrap_or(f64::INFINITY),
            Intensity::Mmpp { switch_at, .. } => *switch_at,
            _ => f64::INFINITY,
        }
    }

    /// The largest value at any time at or after `t`.
    fn max_from(&self, t: f64) -> f64 {
        match self {
            Intensity::Constant(r) => *r,
            Intensity::Diurnal {
                mean, amplitude, ..
            } => mean + amplitude,
            Intensity::Steps { steps } => {
                let current = self.at(t);
                steps
                    .iter()
                    .filter(|(at, _)| *at > t)
                    .map(|(_, r)| *r)
                    .fold(current, f64::max)
            }
            Intensity::Mmpp { rates, .. } => rates[0].max(rates[1]),
        }
    }

    /// Crosses an MMPP state change at `t` (no-op for the others).
    fn cross(&mut self, t: f64, rng: &mut Pcg64) {
        if let Intensity::Mmpp {
            means,
            state,
            switch_at,
            ..
        } = self
            && *switch_at <= t
        {
            *state ^= 1;
            *switch_at += exponential_secs(rng, means[*state]).max(1e-6);
        }
    }
}

/// A trace held in memory: arrival offsets in µs (already windowed, limited and scaled) and
/// tokens.
#[derive(Debug, Clone)]
struct Trace {
    times_us: Vec<u64>,
    tokens: Vec<Option<(u32, u32)>>,
    /// Shift added per repetition, µs; `None`: play once.
    repeat_span_us: Option<u64>,
}

#[derive(Debug, Clone)]
enum LeafKind {
    /// Non-homogeneous Poisson by thinning.
    Poisson(Intensity),
    /// Evenly spaced (renewal with a fixed gap `1/rate`).
    Constant { rate: f64 },
    /// Gamma renewal.
    Gamma { rate: f64, shape: f64 },
    /// Trace replay.
    Replay {
        trace: Trace,
        index: usize,
        round: u64,
        /// Copies to emit (times ascending), with their tokens.
        copies: Vec<(SimTime, Option<(u32, u32)>)>,
    },
}

#[derive(Debug, Clone)]
struct Leaf {
    kind: LeafKind,
    /// Time origin of the leaf, seconds.
    offset: f64,
    mods: Vec<Modulator>,
    /// Leaf clock: the time of its pending arrival (or its origin), seconds.
    clock: f64,
    /// The clock before the pending arrival was drawn (its last arrival or its origin).
    last: f64,
    next: Option<Arrival>,
    done: bool,
}

/// The arrivals of one service: a merge of its traffic leaves, generated lazily (one pending
/// arrival per leaf), deterministic from the generator given.
pub struct Traffic {
    leaves: Vec<Leaf>,
    /// `(time, leaf)` of each leaf's pending arrival.
    heap: BinaryHeap<Reverse<(SimTime, usize)>>,
    injected: Vec<Modulator>,
    rng: Pcg64,
    /// Time of the last arrival taken.
    taken: SimTime,
}

impl std::fmt::Debug for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traffic")
            .field("leaves", &self.leaves.len())
            .field("injected", &self.injected)
            .finish()
    }
}

impl Traffic {
    /// Builds the arrival process of `spec`. Trace files are read now, relative to `data_dir`
    /// (the working directory when `None`); `rng` is the stream every draw comes from.
    ///
    /// # Errors
    /// [`SimError::Trace`] when a replayed file is missing or malformed, [`SimError::Input`]
    /// when a replay window keeps no record.
    pub fn new(spec: &TrafficSpec, data_dir: Option<&Path>, rng: Pcg64) -> Result<Self, SimError> {
        let mut leaves = Vec::new();
        flatten(spec, 0.0, &[], data_dir, &mut leaves)?;
        let mut t = Traffic {
            leaves,
            heap: BinaryHeap::new(),
            injected: Vec::new(),
            rng,
            taken: SimTime::ZERO,
        };
        for i in 0..t.leaves.len() {
            t.refill(i);
        }
        Ok(t)
    }

    /// The time of the next arrival, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Takes the next arrival (in time order; equal times in leaf order).
    pub fn next_arrival(&mut self) -> Option<Arrival> {
        let Reverse((t, i)) = self.heap.pop()?;
        self.taken = t;
        let a = self.leaves[i].next.take();
        self.refill(i);
        a
    }

    /// Multiplies the rate of the whole traffic by `multiplier` during `[at, at + duration)`
    /// (a rectangular spike, for front ends). Poisson, diurnal and steps leaves redraw their
    /// pending arrival from `at` (exact, by memorylessness); renewal, MMPP and replay leaves
    /// apply it from their next draw on. A spike starting before the last arrival taken starts
    /// then (arrivals already taken are not rewritten).
    pub fn inject_spike(&mut self, at: SimTime, multiplier: f64, duration: SimDuration) {
        let start = at.max(self.taken);
        let duration = SimDuration(duration.0.saturating_sub(start.0 - at.0));
        let at = start;
        if !multiplier.is_finite() || multiplier < 0.0 || duration == SimDuration::ZERO {
            return;
        }
        self.injected.push(Modulator::Spike {
            at,
            up: SimDuration::ZERO,
            hold: duration,
            down: SimDuration::ZERO,
            mult: multiplier,
        });
        let from = secs(at);
        for i in 0..self.leaves.len() {
            let leaf = &mut self.leaves[i];
            let memoryless = matches!(
                &leaf.kind,
                LeafKind::Poisson(i) if !matches!(i, Intensity::Mmpp { .. })
            );
            if memoryless && leaf.next.is_some_and(|a| a.time >= at) {
                leaf.next = None;
                leaf.done = false;
                leaf.clock = leaf.last.max(from);
            }
        }
        self.heap.clear();
        for i in 0..self.leaves.len() {
            if self.leaves[i].next.is_none() {
                self.refill(i);
            } else if let Some(a) = self.leaves[i].next {
                self.heap.push(Reverse((a.time, i)));
            }
        }
    }

    /// Draws leaf `i`'s next arrival and queues it.
    fn refill(&mut self, i: usize) {
        let injected = &self.injected;
        let leaf = &mut self.leaves[i];
        if leaf.done {
            return;
        }
        leaf.last = leaf.clock;
        let next = draw(leaf, injected, &mut self.rng);
        match next {
            Some(a) => {
                leaf.next = Some(a);
                self.heap.push(Reverse((a.time, i)));
            }
            None => leaf.done = true,
        }
    }
}

/// Flattens `spec` into leaves; `offset` and `mods` are what the ancestors apply.
fn flatten(
    spec: &TrafficSpec,
    offset: f64,
    mods: &[Modulator],
    data_dir: Option<&Path>,
    out: &mut Vec<Leaf>,
) -> Result<(), SimError> {
    let mut leaf = |kind: LeafKind| {
        out.push(Leaf {
            kind,
            offset,
            mods: mods.to_vec(),
            clock: offset,
            last: offset,
            next: None,
            done: false,
        });
    };
    match spec {
        TrafficSpec::Constant { rate } => leaf(LeafKind::Constant { rate: *rate }),
        TrafficSpec::Poisson { rate } => leaf(LeafKind::Poisson(Intensity::Constant(*rate))),
        TrafficSpec::Diurnal {
            mean,
            amplitude,
            period,
            peak,
        } => leaf(LeafKind::Poisson(Intensity::Diurnal {
            mean: *mean,
            amplitude: *amplitude,
            period: period.as_secs_f64().max(1e-6),
            peak: peak.as_secs_f64(),
        })),
        TrafficSpec::Steps { steps } => leaf(LeafKind::Poisson(Intensity::Steps {
            steps: steps.iter().map(|s| (secs(s.at), s.rate)).collect(),
        })),
        TrafficSpec::Gamma { rate, cv } => leaf(LeafKind::Gamma {
            rate: *rate,
            shape: 1.0 / (cv * cv),
        }),
        TrafficSpec::Mmpp {
            rates,
            mean_durations,
        } => {
            // The first sojourn is drawn on the first draw (switch_at = NaN marks it).
            leaf(LeafKind::Poisson(Intensity::Mmpp {
                rates: *rates,
                means: [
                    mean_durations[0].as_secs_f64(),
                    mean_durations[1].as_secs_f64(),
                ],
                state: 0,
                switch_at: f64::NAN,
            }))
        }
        TrafficSpec::Replay(r) => {
            let trace = load_trace(r, data_dir)?;
            leaf(LeafKind::Replay {
                trace,
                index: 0,
                round: 0,
                copies: Vec::new(),
            });
        }
        TrafficSpec::Sum(parts) => {
            for p in parts {
                flatten(p, offset, mods, data_dir, out)?;
            }
        }
        TrafficSpec::Scale { factor, of } => {
            let mut m = mods.to_vec();
            m.push(Modulator::Scale(*factor));
            flatten(of, offset, &m, data_dir, out)?;
        }
        TrafficSpec::Shift { by, of } => {
            flatten(of, offset + by.as_secs_f64(), mods, data_dir, out)?;
        }
        TrafficSpec::Spike(SpikeSpec {
            at,
            ramp_up,
            hold,
            ramp_down,
            multiplier,
            of,
        }) => {
            let mut m = mods.to_vec();
            m.push(Modulator::Spike {
                at: to_time(offset + secs(*at)),
                up: *ramp_up,
                hold: *hold,
                down: *ramp_down,
                mult: *multiplier,
            });
            flatten(of, offset, &m, data_dir, out)?;
        }
    }
    Ok(())
}

/// Reads and windows a replayed trace.
fn load_trace(r: &ReplaySpec, data_dir: Option<&Path>) -> Result<Trace, SimError> {
    let path = match data_dir {
        Some(d) => d.join(&r.path),
        None => r.path.clone(),
    };
    let (times, tokens): (Vec<u64>, Vec<Option<(u32, u32)>>) = match r.format {
        ReplayFormat::AzureLlm => read_azure_llm(&path)?
            .into_iter()
            .map(|q| (q.arrival_us, Some((q.prompt_tokens, q.output_tokens))))
            .unzip(),
        ReplayFormat::Timestamps => read_timestamps(&path)?
            .into_iter()
            .map(|t| (t, None))
            .unzip(),
    };
    let start = r.start.0;
    let end = r.end.map_or(u64::MAX, |e| e.0);
    let limit = r
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut out_t = Vec::new();
    let mut out_k = Vec::new();
    for (t, k) in times.iter().zip(tokens) {
        if out_t.len() >= limit {
            break;
        }
        if *t >= start && *t < end {
            out_t.push(((t - start) as f64 * r.time_scale).round() as u64);
            out_k.push(k);
        }
    }
    if out_t.is_empty() {
        return Err(SimError::Input(format!(
            "{}: the replay window keeps no record (start {}, end {}); widen `start`/`end`",
            path.display(),
            r.start,
            r.end.map_or("none".to_string(), |e| e.to_string())
        )));
    }
    let repeat_span_us = r.repeat.then(|| {
        let span = match r.end {
            Some(e) => ((e.0 - start) as f64 * r.time_scale).round() as u64,
            None => {
                let (first, last) = (out_t[0], out_t[out_t.len() - 1]);
                let n = out_t.len() as u64;
                let mean_gap = if n > 1 {
                    (last - first) / (n - 1)
                } else {
                    1_000_000
                };
                last + mean_gap.max(1)
            }
        };
        span.max(1)
    });
    Ok(Trace {
        times_us: out_t,
        tokens: out_k,
        repeat_span_us,
    })
}

/// Draws the next arrival of `leaf` after its clock; `None` when it has no more.
fn draw(leaf: &mut Leaf, injected: &[Modulator], rng: &mut Pcg64) -> Option<Arrival> {
    let m = Modulation {
        own: &leaf.mods,
        injected,
    };
    if m.is_zero_forever() {
        return None;
    }
    let offset = leaf.offset;
    match &mut leaf.kind {
        LeafKind::Poisson(intensity) => {
            let t = thin(intensity, offset, leaf.clock, &m, rng)?;
            leaf.clock = t;
            Some(Arrival {
                time: to_time(t),
                tokens: None,
            })
        }
        LeafKind::Constant { rate } => {
            let rate = *rate;
            renewal(&mut leaf.clock, &m, |_| 1.0 / rate)
        }
        LeafKind::Gamma { rate, shape } => {
            let (rate, shape) = (*rate, *shape);
            renewal(&mut leaf.clock, &m, |_| gamma(rng, shape) / (shape * rate))
        }
        LeafKind::Replay {
            trace,
            index,
            round,
            copies,
        } => replay(trace, index, round, copies, offset, &m, rng),
    }
}

/// Thinning: the first point of intensity `m(t)·λ(t − offset)` after `from` (seconds).
fn thin(
    intensity: &mut Intensity,
    offset: f64,
    from: f64,
    m: &Modulation<'_>,
    rng: &mut Pcg64,
) -> Option<f64> {
    if let Intensity::Mmpp {
        means, switch_at, ..
    } = intensity
        && switch_at.is_nan()
    {
        *switch_at = exponential_secs(rng, means[0]).max(1e-6);
    }
    let mut t = from;
    loop {
        if t > MAX_SECS {
            return None;
        }
        let local = t - offset;
        intensity.cross(local, rng);
        if intensity.max_from(local) <= 0.0 {
            return None;
        }
        let base = intensity
            .at(local)
            .max(intensity.max_over(local, local))
            .max(1e-300);
        // A window short enough to keep the bound tight, ended at every break.
        let window = (8.0 / (base * m.at(t).max(1e-9))).clamp(1e-3, 3600.0);
        let end = (t + window)
            .min(m.next_break(t))
            .min(offset + intensity.next_break(local));
        let end = if end > t { end } else { t + 1e-6 };
        let bound = intensity.max_over(local, end - offset) * m.max_over(t, end);
        if bound <= 0.0 {
            // Nothing can arrive until the rate or a multiplier changes.
            let change = m.next_break(t).min(offset + intensity.next_break(local));
            t = if change.is_finite() && change > end {
                change
            } else {
                end
            };
            continue;
        }
        let gap = exponential_secs(rng, 1.0 / bound);
        if t + gap >= end {
            t = end;
            continue;
        }
        t += gap;
        let actual = intensity.at(t - offset) * m.at(t);
        if actual >= bound || unit_f64(rng) * bound < actual {
            return Some(t);
        }
    }
}

/// The next renewal point: a gap `gap(clock)` in the leaf's own clock divided by `m(clock)`.
/// When `m` is 0, the clock jumps to the next break of `m`.
fn renewal(
    clock: &mut f64,
    m: &Modulation<'_>,
    mut gap: impl FnMut(f64) -> f64,
) -> Option<Arrival> {
    loop {
        if *clock > MAX_SECS {
            return None;
        }
        let mult = m.at(*clock);
        if mult <= 0.0 {
            let next = m.next_break(*clock);
            if !next.is_finite() {
                return None;
            }
            *clock = next;
            continue;
        }
        let g = gap(*clock) / mult;
        if !g.is_finite() {
            return None;
        }
        *clock += g;
        return Some(Arrival {
            time: to_time(*clock),
            tokens: None,
        });
    }
}

/// The next arrival of a replayed trace, with thinning (`m < 1`) and copies (`m > 1`).
fn replay(
    trace: &Trace,
    index: &mut usize,
    round: &mut u64,
    copies: &mut Vec<(SimTime, Option<(u32, u32)>)>,
    offset: f64,
    m: &Modulation<'_>,
    rng: &mut Pcg64,
) -> Option<Arrival> {
    let record_time = |i: usize, round: u64| -> Option<SimTime> {
        let base = trace.times_us.get(i)?;
        let shift = trace.repeat_span_us.unwrap_or(0).checked_mul(round)?;
        let us = base.checked_add(shift)?;
        Some(to_time(offset).saturating_add(SimDuration(us)))
    };
    loop {
        let rec = record_time(*index, *round);
        // Copies scheduled before the next record go first.
        if let Some(&(t, tokens)) = copies.first()
            && rec.is_none_or(|r| t < r)
        {
            copies.remove(0);
            return Some(Arrival { time: t, tokens });
        }
        let t = rec?;
        let tokens = trace.tokens[*index];
        *index += 1;
        if *index >= trace.times_us.len() && trace.repeat_span_us.is_some() {
            *index = 0;
            *round += 1;
        }
        let mult = m.at(secs(t));
        if mult < 1.0 {
            if unit_f64(rng) < mult {
                return Some(Arrival { time: t, tokens });
            }
            continue;
        }
        let extra = mult - 1.0;
        let mut k = extra.floor() as u64;
        if unit_f64(rng) < extra - extra.floor() {
            k += 1;
        }
        if k > 0 {
            let next = record_time(*index, *round)
                .map_or(1_000_000, |n| n.0.saturating_sub(t.0))
                .max(1);
            for _ in 0..k.min(1_000_000) {
                let at = SimTime(t.0 + (unit_f64(rng) * next as f64) as u64);
                copies.push((at, tokens));
            }
            copies.sort_by_key(|c| c.0);
        }
        return Some(Arrival { time: t, tokens });
    }
}

/// A Gamma(shape, 1) variate (Marsaglia and Tsang, ACM TOMS 2000; shape < 1 via
/// `Gamma(shape + 1)·U^(1/shape)`).
pub(crate) fn gamma(rng: &mut dyn Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - unit_f64(rng);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - unit_f64(rng);
        if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}
