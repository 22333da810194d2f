//! Test support (feature `testkit`): the in-memory reference provider, the simulator core vendor
//! simulators are built on, and the conformance and resilience suites every provider must pass.
//!
//! This module is for tests and examples; it panics on failed assertions by design.
//!
//! - [`sim`]: the simulator core — a loopback server, the vendor's state, fault knobs,
//!   latency and a call log; a vendor supplies only its wire format through [`sim::Wire`].
//!   Each vendor's simulator lives in the vendor's own folder (for example
//!   `providers::alarm_com::simulator`).
//! - [`faults`]: the fault knobs ([`faults::FaultRule`]) and the HTTP answers that carry them
//!   out.
//! - [`conformance`]: what a host relies on, against any provider.
//! - [`resilience`]: lost answers, transient faults, failed lookups, refusals and unknown
//!   values, against a provider and the simulator it talks to.

pub mod conformance;
pub mod faults;
mod memory;
pub mod resilience;
pub mod sim;

pub use memory::{EVENT_PAGE_SIZE, IN_MEMORY, InMemoryProvider, add_on_list};
