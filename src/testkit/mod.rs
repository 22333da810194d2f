//! Test support (feature `testkit`): the in-memory reference provider, vendor simulators that
//! speak each vendor's wire format, and the conformance suite every provider must pass.
//!
//! This module is for tests and examples; it panics on failed assertions by design.

#[cfg(feature = "alarm-com")]
pub mod alarm_com;
pub mod conformance;
pub mod faults;
mod memory;
#[cfg(feature = "total-connect")]
pub mod total_connect;

pub use memory::{EVENT_PAGE_SIZE, IN_MEMORY, InMemoryProvider, add_on_list};
