//! Alarm.com (work in progress).
use crate::config::IspConfig;
use crate::error::{Error, Result};
/// Alarm.com.
#[derive(Debug)]
pub struct AlarmCom;
impl AlarmCom {
    /// Builds.
    pub fn from_config(_c: &IspConfig) -> Result<crate::testkit::InMemoryProvider> {
        Err(Error::Unsupported {
            provider: "alarm_com".into(),
            operation: "x",
        })
    }
}
