//! Readers for public trace files. Each reader returns plain records in file order and names
//! the offending CSV row (1-based, counting the header as row 1) on bad input.
//!
//! TODO(helper): implement readers.

use std::path::PathBuf;

use serde::Serialize;

/// One row of an Alibaba openb node list (`sn,cpu_milli,memory_mib,gpu,model`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenbNode {
    /// Node name (`sn`).
    pub name: String,
    /// Allocatable CPU in millicores.
    pub cpu_milli: u64,
    /// Allocatable memory in MiB.
    pub memory_mib: u64,
    /// GPU count.
    pub gpus: u32,
    /// GPU model; `None` when empty or `nan` (CPU-only node).
    pub model: Option<String>,
}

/// One row of an Alibaba openb pod list
/// (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,
/// deletion_time,scheduled_time`; only the first five columns are required).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenbPod {
    /// Pod name.
    pub name: String,
    /// CPU request in millicores.
    pub cpu_milli: u64,
    /// Memory request in MiB.
    pub memory_mib: u64,
    /// Number of GPUs (0–8).
    pub num_gpu: u32,
    /// Share of each GPU in milli-GPU (0–1000).
    pub gpu_milli: u32,
    /// Allowed GPU models (`|`-separated in the file; empty or `nan`: any).
    pub gpu_spec: Vec<String>,
    /// Creation time in seconds, if present.
    pub creation_time: Option<u64>,
    /// Deletion time in seconds, if present.
    pub deletion_time: Option<u64>,
}

/// One row of the Philly trace (`timestamp,duration,num_gpus,gpu_time,cluster`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhillyJob {
    /// Submission time in seconds since the Unix epoch (parsed from `YYYY-MM-DD HH:MM:SS`, UTC).
    pub submit_unix_s: i64,
    /// Run time in seconds.
    pub duration_s: f64,
    /// GPUs.
    pub num_gpus: u32,
    /// Virtual cluster id.
    pub cluster: String,
}

/// A trace file could not be read. Every variant is an input error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file does not exist or cannot be opened.
    #[error("cannot read trace file {path}: {source}")]
    Open {
        /// The path tried.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A row is malformed.
    #[error("{path}: row {row}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based row number (the header is row 1).
        row: u64,
        /// What is wrong, with a hint.
        message: String,
    },
    /// The header lacks a required column.
    #[error("{path}: missing column `{column}` in the header (expected {expected})")]
    Header {
        /// The file.
        path: PathBuf,
        /// Missing column.
        column: String,
        /// The expected header.
        expected: String,
    },
}
