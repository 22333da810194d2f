//! # interactive-services
//!
//! Work with *interactive services providers* (ISPs) — Alarm.com, Honeywell Total Connect,
//! Brinks Home — from a security dealer's back office: keep a catalog of ISP configurations,
//! check credentials and permissions, read service plans, provision and change customer
//! accounts, and terminate them, all through one trait,
//! [`InteractiveServicesProvider`].
//!
//! ```
//! use interactive_services::{IspConfig, ProviderRegistry, ProvisionRequest, PlanChange};
//! use interactive_services::testkit::InMemoryProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), interactive_services::Error> {
//! // A configuration, validated on build (every problem is reported at once).
//! let config = IspConfig::builder()
//!     .name("Reference (in memory)")
//!     .provider("in_memory")
//!     .credential("token", "not-a-real-secret")
//!     .default_plan("basic")
//!     .build()?;
//!
//! // Providers are built by name; contributed providers register the same way.
//! let mut registry = ProviderRegistry::with_built_ins();
//! InMemoryProvider::register(&mut registry);
//! let provider = registry.build(&config)?;
//!
//! // No plan in the request: the configuration's default plan is used.
//! let request = ProvisionRequest::builder("CUST-1001").name("Ada", "Lovelace").build();
//! let account = provider.provision(&request).await?;
//! let account = provider
//!     .change_plan(&account.id, &PlanChange::new().add("LightAutomation"))
//!     .await?;
//! assert!(account.has_feature("LightAutomation"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - `alarm-com` (default): the [Alarm.com provider](providers::alarm_com).
//! - `total-connect` (default): the [Total Connect provider](providers::total_connect).
//! - `brinks-home` (default): the [Brinks Home provider](providers::brinks_home) (Monitronics
//!   MIDI dealer services; its interactive service is Alarm.com).
//! - `testkit`: each vendor's simulator (in the vendor's folder, e.g.
//!   `providers::alarm_com::simulator`), the in-memory reference provider and the
//!   conformance suite every provider must pass.
//! - `axum`: the ready callback router, `callbacks::CallbackService::router` (axum 0.8):
//!   deliveries in, health and configuration out as JSON and a small HTML status page.
//!
//! ## Layout
//!
//! Everything about a vendor lives in its folder under [`providers`]: its
//! [`ProviderSpec`], provider, wire format and simulator. The vendor-neutral core
//! ([`model`], [`config`], [`provider`], [`http`], [`error`]) names no vendor and learns the
//! built-in ones from [`providers::built_in_specs`].
//!
//! ## Errors
//!
//! [`Error`] names the provider, the crate's operation and the vendor's; [`Error::kind`] gives
//! an [`ErrorKind`] to match on, with [`ErrorKind::is_retryable`] and a suggested
//! [`ErrorKind::http_status`].
//!
//! ## Secrets
//!
//! Credentials are kept as [`secrecy::SecretString`]. No `Debug`, `Display`, `Serialize`
//! output, error or tracing field of this crate contains one; storing a configuration with its
//! secrets is the explicit [`IspConfig::to_json_with_secrets`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod billing;
pub mod bulk;
pub mod callbacks;
pub mod config;
pub mod error;
pub mod http;
pub mod model;
#[cfg(test)]
mod mutation;
pub mod provider;
pub mod providers;
mod suggest;
/// The sync engine: provider events to the host's sink once, checkpointed; the reconciler.
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{
    CallbackConfig, CatalogLoader, Credentials, IspCatalog, IspConfig, IspConfigBuilder, Status,
};
pub use error::{Error, ErrorKind, Problem, Result, ValidationErrors};
pub use model::*;
pub use provider::{
    Capabilities, ConfiguredProvider, InteractiveServicesProvider, ProviderConstructor,
    ProviderRegistry, ProviderSpec,
};
pub use secrecy;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
