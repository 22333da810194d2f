//! The built-in providers, one folder a vendor.
//!
//! Everything about a vendor lives in its folder: its [`ProviderSpec`] (`spec.rs`: name,
//! credential fields, plan-id rule, optional features), its provider and options, its wire
//! format, and its simulator (behind the `testkit` feature). The vendor-neutral core learns the
//! vendors from [`built_in_specs`] and [`register_built_ins`], the one list below. Adding a
//! vendor touches its folder, this list, `Cargo.toml` features and the docs.
//!
//! [`common`] holds what vendor providers share (and what a contributed provider may reuse):
//! the at-most-once create and the plan-change checks.

use crate::model::ProviderKind;
use crate::provider::{ProviderRegistry, ProviderSpec};

pub mod common;

#[cfg(feature = "alarm-com")]
pub mod alarm_com;
#[cfg(feature = "brinks-home")]
pub mod brinks_home;
#[cfg(feature = "total-connect")]
pub mod total_connect;

static BUILT_IN: &[&ProviderSpec] = &[
    #[cfg(feature = "alarm-com")]
    &alarm_com::SPEC,
    #[cfg(feature = "total-connect")]
    &total_connect::SPEC,
    #[cfg(feature = "brinks-home")]
    &brinks_home::SPEC,
];

/// The specs of the built-in providers compiled in (by cargo feature).
pub fn built_in_specs() -> &'static [&'static ProviderSpec] {
    BUILT_IN
}

/// The spec of the built-in provider `kind`, when it is compiled in.
pub fn built_in_spec(kind: &ProviderKind) -> Option<&'static ProviderSpec> {
    BUILT_IN.iter().copied().find(|s| s.name == kind.as_str())
}

/// The kind a name means: a built-in provider's name or alias (`Alarm.com`, `adc`,
/// `total-connect`) becomes its canonical name; any other name is kept in canonical form.
pub fn kind_for(name: &str) -> ProviderKind {
    let squashed = |n: &str| -> String {
        n.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = squashed(name);
    for spec in BUILT_IN {
        if squashed(spec.name) == wanted || spec.aliases.iter().any(|a| squashed(a) == wanted) {
            return ProviderKind::from_static(spec.name);
        }
    }
    ProviderKind::new(name)
}

/// A name for people: the built-in provider's display name, else the name itself.
pub fn display_name(kind: &ProviderKind) -> &str {
    built_in_spec(kind).map_or(kind.as_str(), |s| s.display_name)
}

impl ProviderRegistry {
    /// A registry with every built-in provider compiled in (by cargo feature).
    pub fn with_built_ins() -> Self {
        let mut registry = Self::empty();
        register_built_ins(&mut registry);
        registry
    }
}

/// Registers every built-in provider compiled in.
pub fn register_built_ins(registry: &mut ProviderRegistry) {
    #[cfg(feature = "alarm-com")]
    alarm_com::register(registry);
    #[cfg(feature = "total-connect")]
    total_connect::register(registry);
    #[cfg(feature = "brinks-home")]
    brinks_home::register(registry);
    let _ = registry;
}
