//! The built-in providers, one module a vendor.

#[cfg(feature = "alarm-com")]
pub mod alarm_com;
