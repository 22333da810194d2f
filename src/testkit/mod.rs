//! Test support (feature `testkit`): the in-memory reference provider, vendor simulators that
//! speak each vendor's wire format, and the conformance suite every provider must pass.
//!
//! This module is for tests and examples; it panics on failed assertions by design.

//!
//! Each vendor's simulator lives in the vendor's own folder (for example
//! `providers::alarm_com::simulator`), built on the fault knobs and helpers of [`faults`].

pub mod conformance;
pub mod faults;
mod memory;

pub use memory::{EVENT_PAGE_SIZE, IN_MEMORY, InMemoryProvider, add_on_list};
