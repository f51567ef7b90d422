//! Readers for public trace files (see `/work/shared/data/SOURCES.md` for their origin). Each
//! reader returns plain records in file order and names the offending CSV row (1-based,
//! counting the header as row 1; this is the line number in the file) on bad input.
//!
//! Only regular files are read (a device such as `/dev/zero` is refused), so memory stays
//! bounded by the file's size.
//!
//! Columns are looked up by header name, so extra or reordered columns are fine and optional
//! columns may be missing (the openb `multigpu50` pod list has only the first five). Empty
//! lines are skipped (the Philly file ends with one). Fields are trimmed.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One row of an Alibaba openb node list (`sn,cpu_milli,memory_mib,gpu,model`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// One request of the Azure LLM inference trace (`TIMESTAMP,ContextTokens,GeneratedTokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AzureLlmRequest {
    /// Arrival time in microseconds after the file's first record.
    pub arrival_us: u64,
    /// Prompt tokens (`ContextTokens`).
    pub prompt_tokens: u32,
    /// Output tokens (`GeneratedTokens`).
    pub output_tokens: u32,
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

/// Most GPUs one openb node or pod may have.
const MAX_GPUS: u32 = 64;

/// An open CSV file with its header resolved.
struct Table {
    path: PathBuf,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    header: Vec<String>,
    expected: &'static str,
    /// Last (byte offset, line number) resolved, so rows resolve in linear time overall.
    line_cache: (u64, u64),
}

/// The 1-based line number of the byte at `offset` in `bytes` (counting `\n`, so CRLF files and
/// blank lines count as in an editor), resuming from a cached earlier `(offset, line)`.
fn line_at(bytes: &[u8], offset: u64, cache: &mut (u64, u64)) -> u64 {
    // The csv crate may place a record's start on the line terminator or the blank lines before
    // it (a `\r\n` counts as `\r` then an empty line); skip them to the record's first byte.
    let mut offset = offset;
    while bytes
        .get(offset as usize)
        .is_some_and(|b| matches!(b, b'\r' | b'\n'))
    {
        offset += 1;
    }
    let (mut from, mut line) = *cache;
    if offset < from {
        (from, line) = (0, 1);
    }
    let end = (offset as usize).min(bytes.len());
    let start = (from as usize).min(end);
    line += bytes[start..end].iter().filter(|&&b| b == b'\n').count() as u64;
    *cache = (offset, line);
    line
}

/// One record being read, for typed field access with row-level errors.
struct Row<'t> {
    path: &'t Path,
    row: u64,
    record: csv::StringRecord,
}

/// Reads a whole trace file, which must be a regular file.
fn read_regular_file(path: &Path) -> Result<Vec<u8>, TraceError> {
    let open = |source| TraceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(open)?;
    if !meta.is_file() {
        return Err(open(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (expected a CSV trace file)",
        )));
    }
    std::fs::read(path).map_err(open)
}

impl Table {
    fn open(path: &Path, expected: &'static str) -> Result<Table, TraceError> {
        Table::open_with(path, expected, true)
    }

    fn open_with(path: &Path, expected: &'static str, headers: bool) -> Result<Table, TraceError> {
        let bytes = read_regular_file(path)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(headers)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(std::io::Cursor::new(bytes));
        let header = if headers {
            reader
                .headers()
                .map_err(|e| csv_error(path, e, &[]))?
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').to_string())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Table {
            path: path.to_path_buf(),
            reader,
            header,
            expected,
            line_cache: (0, 1),
        })
    }

    /// The index of a required column.
    fn column(&self, name: &str) -> Result<usize, TraceError> {
        self.optional_column(name)
            .ok_or_else(|| TraceError::Header {
                path: self.path.clone(),
                column: name.to_string(),
                expected: self.expected.to_string(),
            })
    }

    fn optional_column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Calls `f` on every non-empty record, in order.
    fn for_each(
        mut self,
        mut f: impl FnMut(&Row<'_>) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        let mut record = csv::StringRecord::new();
        loop {
            match self.reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => return Err(csv_error(&self.path, e, self.reader.get_ref().get_ref())),
            }
            if record.iter().all(str::is_empty) {
                continue;
            }
            let offset = record.position().map_or(0, csv::Position::byte);
            let row = line_at(
                self.reader.get_ref().get_ref(),
                offset,
                &mut self.line_cache,
            );
            let r = Row {
                path: &self.path,
                row,
                record: std::mem::take(&mut record),
            };
            f(&r)?;
            record = r.record;
        }
    }
}

fn csv_error(path: &Path, e: csv::Error, bytes: &[u8]) -> TraceError {
    let row = match e.position() {
        Some(p) if !bytes.is_empty() => line_at(bytes, p.byte(), &mut (0, 1)),
        Some(p) => p.line(),
        None => 0,
    };
    match e.into_kind() {
        csv::ErrorKind::Io(source) => TraceError::Open {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => TraceError::Row {
            path: path.to_path_buf(),
            row,
            message: format!(
                "{len} fields where the header has {expected_len} (hint: check for a missing or \
                 extra comma on this line)"
            ),
        },
        csv::ErrorKind::Utf8 { err, .. } => TraceError::Row {
            path: path.to_path_buf(),
            row,
            message: format!(
                "field {} is not valid UTF-8 (hint: the file must be UTF-8 text)",
                err.field() + 1
            ),
        },
        other => TraceError::Row {
            path: path.to_path_buf(),
            row,
            message: format!("malformed CSV: {other:?}"),
        },
    }
}

impl Row<'_> {
    fn text(&self, col: usize) -> &str {
        self.record.get(col).unwrap_or("")
    }

    fn error(&self, column: &str, value: &str, problem: &str, hint: &str) -> TraceError {
        TraceError::Row {
            path: self.path.to_path_buf(),
            row: self.row,
            message: format!("column `{column}` = `{value}`: {problem} (hint: {hint})"),
        }
    }

    /// A non-negative integer; also accepts an integral decimal like `12.0`.
    fn uint(&self, col: usize, column: &str) -> Result<u64, TraceError> {
        let v = self.text(col);
        if let Ok(n) = v.parse::<u64>() {
            return Ok(n);
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
            _ => Err(self.error(
                column,
                v,
                "not a non-negative integer",
                "write a whole number like 4000",
            )),
        }
    }

    fn u32_at_most(
        &self,
        col: usize,
        column: &str,
        max: u32,
        hint: &str,
    ) -> Result<u32, TraceError> {
        let n = self.uint(col, column)?;
        match u32::try_from(n) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(self.error(
                column,
                self.text(col),
                &format!("out of range (0 to {max})"),
                hint,
            )),
        }
    }

    /// An optional non-negative integer: empty or `nan` is `None`.
    fn opt_uint(&self, col: Option<usize>, column: &str) -> Result<Option<u64>, TraceError> {
        match col {
            Some(c) if !is_missing(self.text(c)) => self.uint(c, column).map(Some),
            _ => Ok(None),
        }
    }
}

/// Empty, or pandas' `nan`.
fn is_missing(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("nan")
}

const OPENB_NODES_HEADER: &str = "sn,cpu_milli,memory_mib,gpu,model";
const OPENB_PODS_HEADER: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,qos,\
    pod_phase,creation_time,deletion_time,scheduled_time]";
const PHILLY_HEADER: &str = "timestamp,duration,num_gpus[,gpu_time,cluster]";

/// Reads an Alibaba openb node list (`sn,cpu_milli,memory_mib,gpu,model`; `model` may be
/// missing, empty or `nan` for CPU-only nodes).
///
/// # Errors
/// [`TraceError::Open`] if the file cannot be read, [`TraceError::Header`] if a required column
/// is missing, [`TraceError::Row`] for a bad value (for example more than 64 GPUs).
pub fn read_openb_nodes(path: &Path) -> Result<Vec<OpenbNode>, TraceError> {
    let t = Table::open(path, OPENB_NODES_HEADER)?;
    let (sn, cpu, mem, gpu) = (
        t.column("sn")?,
        t.column("cpu_milli")?,
        t.column("memory_mib")?,
        t.column("gpu")?,
    );
    let model = t.optional_column("model");
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    t.for_each(|r| {
        let name = r.text(sn);
        if name.is_empty() {
            return Err(r.error("sn", name, "empty node name", "every node needs a name"));
        }
        if !seen.insert(name.to_string()) {
            return Err(r.error(
                "sn",
                name,
                "duplicate node name",
                "node names must be unique; remove or rename the repeated row",
            ));
        }
        let gpus = r.u32_at_most(gpu, "gpu", MAX_GPUS, "a node has 0 to 64 GPUs")?;
        let model = model
            .map(|c| r.text(c))
            .filter(|m| !is_missing(m))
            .map(str::to_string);
        if gpus > 0 && model.is_none() {
            return Err(r.error(
                "model",
                "",
                "a GPU node without a GPU model",
                "give the model, for example V100M16",
            ));
        }
        out.push(OpenbNode {
            name: name.to_string(),
            cpu_milli: r.uint(cpu, "cpu_milli")?,
            memory_mib: r.uint(mem, "memory_mib")?,
            gpus,
            model: if gpus > 0 { model } else { None },
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads an Alibaba openb pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli` required;
/// `gpu_spec`, `creation_time`, `deletion_time` optional, other columns ignored).
///
/// # Errors
/// [`TraceError::Open`] if the file cannot be read, [`TraceError::Header`] if a required column
/// is missing, [`TraceError::Row`] for a bad value: a non-numeric field, `num_gpu` > 64,
/// `gpu_milli` > 1000, a multi-GPU pod with `gpu_milli` < 1000 (only single-GPU pods share a
/// GPU), or a deletion before the creation.
pub fn read_openb_pods(path: &Path) -> Result<Vec<OpenbPod>, TraceError> {
    let t = Table::open(path, OPENB_PODS_HEADER)?;
    let (name, cpu, mem, num_gpu, gpu_milli) = (
        t.column("name")?,
        t.column("cpu_milli")?,
        t.column("memory_mib")?,
        t.column("num_gpu")?,
        t.column("gpu_milli")?,
    );
    let spec = t.optional_column("gpu_spec");
    let created = t.optional_column("creation_time");
    let deleted = t.optional_column("deletion_time");
    let mut out = Vec::new();
    t.for_each(|r| {
        let pod = r.text(name);
        if pod.is_empty() {
            return Err(r.error("name", pod, "empty pod name", "every pod needs a name"));
        }
        let gpus = r.u32_at_most(num_gpu, "num_gpu", MAX_GPUS, "a pod asks for 0 to 64 GPUs")?;
        let milli = r.u32_at_most(
            gpu_milli,
            "gpu_milli",
            1000,
            "gpu_milli is the share of one GPU in thousandths, 0 to 1000",
        )?;
        if gpus > 1 && milli < 1000 {
            return Err(r.error(
                "gpu_milli",
                r.text(gpu_milli),
                &format!("a {gpus}-GPU pod must take whole GPUs"),
                "only single-GPU pods may share a GPU (gpu_milli < 1000)",
            ));
        }
        let gpu_spec = spec
            .map(|c| r.text(c))
            .filter(|s| !is_missing(s))
            .map(|s| {
                s.split('|')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let creation_time = r.opt_uint(created, "creation_time")?;
        let deletion_time = r.opt_uint(deleted, "deletion_time")?;
        if let (Some(c), Some(d)) = (creation_time, deletion_time)
            && d < c
        {
            return Err(r.error(
                "deletion_time",
                &d.to_string(),
                &format!("before creation_time {c} (a negative duration)"),
                "times are seconds from the trace start; deletion must not precede creation",
            ));
        }
        out.push(OpenbPod {
            name: pod.to_string(),
            cpu_milli: r.uint(cpu, "cpu_milli")?,
            memory_mib: r.uint(mem, "memory_mib")?,
            num_gpu: gpus,
            gpu_milli: milli,
            gpu_spec,
            creation_time,
            deletion_time,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads the Philly trace as preprocessed by Pollux (`timestamp,duration,num_gpus,gpu_time,
/// cluster`; `gpu_time` is ignored and `cluster` may be missing).
///
/// # Errors
/// [`TraceError::Open`] if the file cannot be read, [`TraceError::Header`] if a required column
/// is missing, [`TraceError::Row`] for a bad timestamp (not `YYYY-MM-DD HH:MM:SS`), a negative
/// or non-numeric duration, or a job with no GPUs.
pub fn read_philly(path: &Path) -> Result<Vec<PhillyJob>, TraceError> {
    let t = Table::open(path, PHILLY_HEADER)?;
    let (ts, dur, gpus) = (
        t.column("timestamp")?,
        t.column("duration")?,
        t.column("num_gpus")?,
    );
    let cluster = t.optional_column("cluster");
    let mut out = Vec::new();
    t.for_each(|r| {
        let stamp = r.text(ts);
        let submit_unix_s = parse_utc_timestamp(stamp).ok_or_else(|| {
            r.error(
                "timestamp",
                stamp,
                "not a valid timestamp",
                "expected UTC `YYYY-MM-DD HH:MM:SS`",
            )
        })?;
        let d = r.text(dur);
        let duration_s = match d.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => x,
            Ok(x) if x < 0.0 => {
                return Err(r.error(
                    "duration",
                    d,
                    "negative duration",
                    "durations are seconds, 0 or more",
                ));
            }
            _ => {
                return Err(r.error(
                    "duration",
                    d,
                    "not a number",
                    "durations are seconds, like 2951.0",
                ));
            }
        };
        let num_gpus = r.uint(gpus, "num_gpus")?;
        let num_gpus = match u32::try_from(num_gpus) {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(r.error(
                    "num_gpus",
                    r.text(gpus),
                    "out of range",
                    "a Philly job has 1 or more GPUs",
                ));
            }
        };
        out.push(PhillyJob {
            submit_unix_s,
            duration_s,
            num_gpus,
            cluster: cluster.map(|c| r.text(c).to_string()).unwrap_or_default(),
        });
        Ok(())
    })?;
    Ok(out)
}

const AZURE_LLM_HEADER: &str = "TIMESTAMP,ContextTokens,GeneratedTokens";

/// Reads the Azure LLM inference trace (`TIMESTAMP,ContextTokens,GeneratedTokens`, as
/// published with Splitwise, ISCA'24, in Azure/AzurePublicDataset): one request per row,
/// `TIMESTAMP` as `YYYY-MM-DD HH:MM:SS[.fffffff]` (UTC; digits past the microsecond are
/// dropped). Arrival times are returned in microseconds after the first record; rows must be
/// in time order. Extra columns are ignored.
///
/// # Errors
/// [`TraceError::Open`] if the file cannot be read or is not a regular file,
/// [`TraceError::Header`] if a column is missing, [`TraceError::Row`] (naming the row, the
/// column and the value, with a hint) for a malformed timestamp, a token count that is not an
/// integer in 0–4,294,967,295, or a row earlier than the one before it.
pub fn read_azure_llm(path: &Path) -> Result<Vec<AzureLlmRequest>, TraceError> {
    let t = Table::open(path, AZURE_LLM_HEADER)?;
    let (ts, ctx, gen_) = (
        t.column("TIMESTAMP")?,
        t.column("ContextTokens")?,
        t.column("GeneratedTokens")?,
    );
    let mut out = Vec::new();
    let mut first: Option<i64> = None;
    let mut last = i64::MIN;
    t.for_each(|r| {
        let stamp = r.text(ts);
        let us = parse_utc_timestamp_us(stamp).ok_or_else(|| {
            r.error(
                "TIMESTAMP",
                stamp,
                "not a valid timestamp",
                "expected UTC `YYYY-MM-DD HH:MM:SS.fffffff`, like 2023-11-16 18:15:46.6805900",
            )
        })?;
        if us < last {
            return Err(r.error(
                "TIMESTAMP",
                stamp,
                "earlier than the row before it",
                "rows must be in time order; sort the file by TIMESTAMP",
            ));
        }
        last = us;
        let first = *first.get_or_insert(us);
        let tokens = |col: usize, name: &str| {
            r.uint(col, name).and_then(|n| {
                u32::try_from(n).map_err(|_| {
                    r.error(name, r.text(col), "too large", "a token count below 2^32")
                })
            })
        };
        out.push(AzureLlmRequest {
            arrival_us: (us - first) as u64,
            prompt_tokens: tokens(ctx, "ContextTokens")?,
            output_tokens: tokens(gen_, "GeneratedTokens")?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads a CSV of arrival times in seconds (decimals allowed): one column, with an optional
/// header line (a first line that is not a number). Returns arrival times in microseconds
/// after the first record (rounded to the microsecond); rows must be in time order.
///
/// # Errors
/// [`TraceError::Open`] if the file cannot be read or is not a regular file,
/// [`TraceError::Row`] (naming the row and value, with a hint) for a value that is not a
/// finite number, a row with more than one column, or a time earlier than the one before it.
pub fn read_timestamps(path: &Path) -> Result<Vec<u64>, TraceError> {
    let t = Table::open_with(path, "one column of times in seconds", false)?;
    let mut out = Vec::new();
    let mut first: Option<f64> = None;
    let mut last = f64::NEG_INFINITY;
    let mut seen_row = false;
    t.for_each(|r| {
        let is_first_row = !seen_row;
        seen_row = true;
        if r.record.len() != 1 {
            return Err(TraceError::Row {
                path: r.path.to_path_buf(),
                row: r.row,
                message: format!(
                    "{} fields where one is expected (hint: the file holds one column of \
                     arrival times in seconds)",
                    r.record.len()
                ),
            });
        }
        let v = r.text(0).trim_start_matches('\u{feff}');
        let x = match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x.abs() < 1e12 => x,
            _ if is_first_row && !v.is_empty() && v.parse::<f64>().is_err() => return Ok(()),
            _ => {
                return Err(r.error(
                    "1",
                    v,
                    "not a time in seconds",
                    "write a number of seconds like 12.5",
                ));
            }
        };
        if x < last {
            return Err(r.error(
                "1",
                v,
                "earlier than the row before it",
                "rows must be in time order; sort the file",
            ));
        }
        last = x;
        let first = *first.get_or_insert(x);
        out.push(((x - first) * 1e6).round() as u64);
        Ok(())
    })?;
    Ok(out)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.f...]` (UTC, up to 9 fractional digits) into microseconds
/// since the Unix epoch (digits past the microsecond are dropped); `None` if malformed.
fn parse_utc_timestamp_us(s: &str) -> Option<i64> {
    let secs = parse_utc_timestamp(s.get(..19)?)?;
    let frac = match s.get(19..)? {
        "" => 0,
        rest => {
            let digits = rest.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let micro: String = digits
                .chars()
                .chain(std::iter::repeat('0'))
                .take(6)
                .collect();
            micro.parse::<i64>().ok()?
        }
    };
    Some(secs * 1_000_000 + frac)
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) into seconds since the Unix epoch; `None` if malformed
/// or not a real date.
fn parse_utc_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_fractions_parse_to_microseconds() {
        assert_eq!(
            parse_utc_timestamp_us("2023-11-16 18:15:46.6805900"),
            Some(1_700_158_546_680_590)
        );
        assert_eq!(
            parse_utc_timestamp_us("1970-01-01 00:00:01"),
            Some(1_000_000)
        );
        assert_eq!(
            parse_utc_timestamp_us("1970-01-01 00:00:01.5"),
            Some(1_500_000)
        );
        assert_eq!(
            parse_utc_timestamp_us("1970-01-01 00:00:00.123456789"),
            Some(123_456)
        );
        for bad in [
            "1970-01-01 00:00:01.",
            "1970-01-01 00:00:01.1234567890",
            "1970-01-01 00:00:01,5",
            "1970-01-01 00:00:01.5x",
            "1970-01-01",
            "",
            "1970-01-01 00:00:01.-5",
        ] {
            assert_eq!(parse_utc_timestamp_us(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_utc_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_utc_timestamp("2017-10-09 07:01:55"),
            Some(1_507_532_515)
        );
        assert_eq!(
            parse_utc_timestamp("2000-02-29 12:00:00"),
            Some(951_825_600)
        );
        assert_eq!(parse_utc_timestamp("1969-12-31 23:59:59"), Some(-1));
        for bad in [
            "2017-02-29 00:00:00",
            "2017-13-01 00:00:00",
            "2017-10-09T07:01:55",
            "2017-10-09 24:00:00",
            "",
            "2017-1-09 07:01:55",
            "+017-10-09 07:01:55",
        ] {
            assert_eq!(parse_utc_timestamp(bad), None, "{bad}");
        }
    }
}
