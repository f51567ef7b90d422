//! # drydock-scenarios: scenario files
//!
//! TODO(helper): crate docs, `load`, `load_str`, builtins, JSON schema.
#![deny(missing_docs)]

pub mod model;
pub mod trace;

pub use model::*;
