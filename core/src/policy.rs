//! Decision policies. Each is a pure function of a request and a read-only cluster snapshot.

pub mod scheduler;
