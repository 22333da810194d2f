//! Which provider a configuration is for, and the credential fields a provider takes.
//!
//! This module names no vendor and knows none: what each vendor is (its display name, credential
//! fields, plan id rule, optional features) is its
//! [`ProviderSpec`](crate::provider::ProviderSpec), kept in the vendor's own folder and listed
//! once in [`providers`](crate::providers).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The provider an [`IspConfig`](crate::IspConfig) is for, by its canonical name
/// (`alarm_com`, `total_connect`, or the name a contributed provider was registered under).
///
/// Names are compared in one canonical form for every provider, built-in or contributed: trimmed,
/// lower case, `-` written as `_`. A built-in provider's common spellings (`Alarm.com`,
/// `total-connect`, ...) are its aliases: [`providers::kind_for`](crate::providers::kind_for)
/// and configurations resolve them to its canonical name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderKind(Cow<'static, str>);

/// One credential field a provider takes: enough for a host to draw its admin form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CredentialField {
    /// The key under which the value is stored (`login`, `password`, ...).
    pub key: &'static str,
    /// A label for a form.
    pub label: &'static str,
    /// Whether the value is a secret (never shown, logged or serialized by default).
    pub secret: bool,
    /// Whether the value must be given.
    pub required: bool,
    /// Help a dealer reads next to the field.
    pub help: &'static str,
}

/// One field a provider's provision requests take beyond the common ones, in
/// [`ProvisionRequest::vendor_fields`](crate::ProvisionRequest::vendor_fields): enough for a
/// host to draw the form and for the crate to check a request before any call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProvisionField {
    /// The key in `vendor_fields` (`city_number`).
    pub key: &'static str,
    /// A label for a form.
    pub label: &'static str,
    /// Whether the value must be given (see `help` for fields another value can stand in for).
    pub required: bool,
    /// The form a value takes, for people (`digits`, `residential or commercial`).
    pub format: &'static str,
    /// Help a dealer reads next to the field.
    pub help: &'static str,
}

/// The canonical form of a provider name: trimmed, lower case, `-` as `_`.
pub(crate) fn canonical_name(name: &str) -> String {
    name.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == '-' { '_' } else { c })
        .collect()
}

impl ProviderKind {
    /// A kind from a canonical name known at compile time (a vendor's own constant).
    pub const fn from_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// The kind for `name`, in canonical form (trimmed, lower case, `-` as `_`). A built-in
    /// provider's other spellings (`Alarm.com`) are resolved by
    /// [`providers::kind_for`](crate::providers::kind_for), which configurations use.
    pub fn new(name: &str) -> Self {
        Self(Cow::Owned(canonical_name(name)))
    }

    /// The canonical name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = std::convert::Infallible;

    /// [`ProviderKind::new`]: never fails.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl From<&str> for ProviderKind {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl Serialize for ProviderKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProviderKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::new(&s))
    }
}
