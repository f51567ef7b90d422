//! Resource quantities: CPU in millicores, memory in MiB, GPUs as whole devices or milli-GPU
//! shares, and the set of GPU devices a pod holds on a node.

use serde::{Deserialize, Serialize};

/// Milli-GPU in one whole GPU: a GPU share is expressed in thousandths of a device, as in the
/// Alibaba openb trace (`gpu_milli`) and the FGD study (kubernetes-semantics.md §10.1 \[src\]).
pub const MILLI_PER_GPU: u32 = 1000;

/// The most GPU devices one node may have; [`DeviceSet`] is a 64-bit mask.
pub const MAX_GPUS_PER_NODE: u32 = 64;

/// What one pod asks of GPUs.
///
/// * `count == 0`: a CPU-only pod (`milli` is ignored and kept at 0).
/// * `count == 1 && milli < 1000`: a *sharing* pod that takes `milli` thousandths of one device.
/// * `milli == 1000`: a *whole-GPU* pod taking `count` full devices, as `nvidia.com/gpu: count`.
///
/// Source: kubernetes-semantics.md §10.1 \[src\] (pod classes), §4.3 \[docs\] (`nvidia.com/gpu` is
/// an integer extended resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GpuRequest {
    /// Number of GPU devices (0 to [`MAX_GPUS_PER_NODE`]).
    pub count: u32,
    /// Share of each device in milli-GPU (1 to 1000; 0 when `count == 0`).
    pub milli: u32,
}

impl GpuRequest {
    /// No GPU at all.
    pub const NONE: GpuRequest = GpuRequest { count: 0, milli: 0 };

    /// `count` whole GPUs (`nvidia.com/gpu: count`).
    pub const fn whole(count: u32) -> Self {
        if count == 0 {
            Self::NONE
        } else {
            GpuRequest {
                count,
                milli: MILLI_PER_GPU,
            }
        }
    }

    /// A share of one GPU, in milli-GPU (1..=1000). `shared(1000)` is one whole GPU.
    pub const fn shared(milli: u32) -> Self {
        if milli == 0 {
            Self::NONE
        } else {
            GpuRequest { count: 1, milli }
        }
    }

    /// True for a pod that takes a fraction (< 1000 milli) of a single device.
    pub const fn is_sharing(&self) -> bool {
        self.count == 1 && self.milli < MILLI_PER_GPU
    }

    /// True for a pod that requests no GPU.
    pub const fn is_none(&self) -> bool {
        self.count == 0
    }

    /// Total GPU demand in milli-GPU (`count × milli`).
    pub const fn total_milli(&self) -> u64 {
        self.count as u64 * self.milli as u64
    }
}

/// The resource requests of one pod: `requests` of its containers summed as kube-scheduler's
/// effective request (kubernetes-semantics.md §4.2 \[src\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodRequest {
    /// CPU request in millicores.
    pub cpu_milli: u64,
    /// Memory request in MiB.
    pub memory_mib: u64,
    /// GPU request (whole devices or a share of one).
    pub gpu: GpuRequest,
}

/// A set of GPU device indices on one node, as a bit mask (bit `i` = device `i`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct DeviceSet(pub u64);

impl DeviceSet {
    /// The empty set.
    pub const EMPTY: DeviceSet = DeviceSet(0);

    /// A set holding only device `i`.
    pub const fn single(i: u32) -> Self {
        DeviceSet(1u64 << i)
    }

    /// Adds device `i`.
    pub fn insert(&mut self, i: u32) {
        self.0 |= 1u64 << i;
    }

    /// True when device `i` is in the set.
    pub const fn contains(&self, i: u32) -> bool {
        self.0 & (1u64 << i) != 0
    }

    /// Number of devices in the set.
    pub const fn len(&self) -> u32 {
        self.0.count_ones()
    }

    /// True when the set holds no device.
    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Device indices in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let bits = self.0;
        (0..MAX_GPUS_PER_NODE).filter(move |i| bits & (1u64 << i) != 0)
    }
}
