//! # Brinks Home
//!
//! Brinks Home (formerly Monitronics) provisions its interactive service (Alarm.com) through its
//! own dealer SOAP services (MIDI). Only the configuration side exists so far: its
//! [`SPEC`] (credential fields `app_id`, `user_name`, `password`, `entity`; plan codes), so
//! that a catalog entry validates and its admin form can be drawn. Building a provider answers
//! [`Error::Unsupported`]: the provider itself is not written yet.

mod spec;

use std::sync::Arc;

pub use spec::{KIND, NAME, SPEC};

use crate::config::IspConfig;
use crate::error::Error;
use crate::provider::{InteractiveServicesProvider, ProviderOptions, ProviderRegistry};

/// Registers Brinks Home's spec; building a provider answers [`Error::Unsupported`].
pub(crate) fn register(registry: &mut ProviderRegistry) {
    registry.register_spec(
        SPEC,
        |_: &IspConfig,
         _: &ProviderOptions|
         -> crate::Result<Arc<dyn InteractiveServicesProvider>> {
            Err(Error::unsupported(
                NAME,
                "build (the Brinks Home provider is not implemented yet)",
            ))
        },
    );
}
