//! The built-in providers, one module a vendor.

#[cfg(feature = "alarm-com")]
pub mod alarm_com;
#[cfg(feature = "total-connect")]
pub mod total_connect;

#[cfg(any(feature = "alarm-com", feature = "total-connect"))]
mod common;
#[cfg(any(feature = "alarm-com", feature = "total-connect"))]
pub(crate) use common::{as_folder, create_once, plan_for_change};
