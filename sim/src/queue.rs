//! The event queue: a binary heap keyed by `(time, seq)`, where `seq` is a global insertion
//! counter, so events at equal times pop in the order they were pushed (NeXosim's
//! `(time, epoch)` queue).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use drydock_core::SimTime;

/// Scheduling an event before the current time: always a logic bug in the simulator (desque's
/// `BackInTime`). Fatal; the run cannot resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at} but the clock is already at {now}")]
pub struct BackInTime {
    /// Requested time.
    pub at: SimTime,
    /// Current time.
    pub now: SimTime,
}

#[derive(Debug)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// A priority queue of events ordered by `(time, insertion sequence)`.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            now: SimTime::ZERO,
        }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`.
    ///
    /// # Errors
    /// [`BackInTime`] when `at` is before the current time.
    pub fn push(&mut self, at: SimTime, event: E) -> Result<(), BackInTime> {
        if at < self.now {
            return Err(BackInTime { at, now: self.now });
        }
        self.heap.push(Reverse(Entry {
            time: at,
            seq: self.seq,
            event,
        }));
        self.seq += 1;
        Ok(())
    }

    /// Pops the earliest event (FIFO among equal times) and advances the clock to it.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let Reverse(e) = self.heap.pop()?;
        self.now = e.time;
        Some((e.time, e.event))
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no event is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Number of events pushed so far.
    pub fn pushed(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a').unwrap();
        q.push(SimTime(1), 'b').unwrap();
        q.push(SimTime(5), 'c').unwrap();
        q.push(SimTime(1), 'd').unwrap();
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }

    #[test]
    fn scheduling_into_the_past_is_an_error() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), ()).unwrap();
        q.pop();
        assert_eq!(
            q.push(SimTime(9), ()),
            Err(BackInTime {
                at: SimTime(9),
                now: SimTime(10)
            })
        );
        assert!(q.push(SimTime(10), ()).is_ok());
    }
}
