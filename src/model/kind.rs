//! Which provider a configuration is for, and the credential fields each one takes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The provider an [`IspConfig`](crate::IspConfig) is for.
///
/// Built-in providers have their own variant; a provider contributed from another crate is
/// [`ProviderKind::Other`] with the name it was registered under in a
/// [`ProviderRegistry`](crate::ProviderRegistry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    /// Alarm.com dealer web services (`alarm_com`).
    AlarmCom,
    /// Honeywell / Resideo Total Connect and AlarmNet (`total_connect`).
    TotalConnect,
    /// Brinks Home (Monitronics dealer services) (`brinks_home`).
    BrinksHome,
    /// A provider registered by name (lower-case, as registered).
    Other(String),
}

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

const ALARM_COM_FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "login",
        label: "Partner Portal login",
        secret: false,
        required: true,
        help: "A dedicated Alarm.com Partner Portal login for the integration. Account owners give it the legacy role \"SecurityTrax Integration User\"; sub-dealers give it a custom role made from the \"SecurityTrax Integration\" template.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "The password of that Partner Portal login.",
    },
    CredentialField {
        key: "two_factor_device_id",
        label: "Two-factor device id",
        secret: true,
        required: false,
        help: "Only when the login has two-factor authentication: the trusted device id Alarm.com issued for it.",
    },
    CredentialField {
        key: "dealer_id",
        label: "Sub-dealer id",
        secret: false,
        required: false,
        help: "Only for a sub-dealer: its Alarm.com dealer id. Customers are then created with CreateCustomerForDealer.",
    },
];

const TOTAL_CONNECT_FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "user_name",
        label: "User name",
        secret: false,
        required: true,
        help: "The AlarmNet 360 / Total Connect dealer user the integration logs in as.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "Its password. Repeated failed logins lock the account: the crate stops after one rejection.",
    },
    CredentialField {
        key: "application_id",
        label: "Application id",
        secret: false,
        required: true,
        help: "The ApplicationID Resideo issued to your integration.",
    },
    CredentialField {
        key: "application_version",
        label: "Application version",
        secret: false,
        required: true,
        help: "The ApplicationVersion registered with that application id.",
    },
    CredentialField {
        key: "company_id",
        label: "Dealer / company id",
        secret: false,
        required: true,
        help: "Your AlarmNet dealer (company) id.",
    },
];

const BRINKS_FIELDS: &[CredentialField] = &[
    CredentialField {
        key: "app_id",
        label: "Application id",
        secret: true,
        required: true,
        help: "The appID Brinks Home issued for its dealer services (sent in the ApplicationIDHeader).",
    },
    CredentialField {
        key: "user_name",
        label: "User name",
        secret: false,
        required: true,
        help: "Your Brinks Home dealer services user.",
    },
    CredentialField {
        key: "password",
        label: "Password",
        secret: true,
        required: true,
        help: "Its password.",
    },
    CredentialField {
        key: "entity",
        label: "Dealer entity",
        secret: false,
        required: true,
        help: "Your dealer entity number at Brinks Home.",
    },
];

impl ProviderKind {
    /// The built-in providers.
    pub const BUILT_IN: [ProviderKind; 3] = [
        ProviderKind::AlarmCom,
        ProviderKind::TotalConnect,
        ProviderKind::BrinksHome,
    ];

    /// The provider's canonical name (`alarm_com`, `total_connect`, `brinks_home`, or the
    /// registered name).
    pub fn as_str(&self) -> &str {
        match self {
            ProviderKind::AlarmCom => "alarm_com",
            ProviderKind::TotalConnect => "total_connect",
            ProviderKind::BrinksHome => "brinks_home",
            ProviderKind::Other(name) => name,
        }
    }

    /// A name for people (`Alarm.com`, ...).
    pub fn display_name(&self) -> &str {
        match self {
            ProviderKind::AlarmCom => "Alarm.com",
            ProviderKind::TotalConnect => "Honeywell Total Connect",
            ProviderKind::BrinksHome => "Brinks Home",
            ProviderKind::Other(name) => name,
        }
    }

    /// The credential fields the provider takes. Empty for [`ProviderKind::Other`]: a
    /// contributed provider declares its fields when it is registered.
    pub fn credential_fields(&self) -> &'static [CredentialField] {
        match self {
            ProviderKind::AlarmCom => ALARM_COM_FIELDS,
            ProviderKind::TotalConnect => TOTAL_CONNECT_FIELDS,
            ProviderKind::BrinksHome => BRINKS_FIELDS,
            ProviderKind::Other(_) => &[],
        }
    }

    /// Whether the provider has a Builder Program (builder / commitment records).
    pub fn has_builder_program(&self) -> bool {
        matches!(self, ProviderKind::AlarmCom)
    }

    /// Whether the provider pushes Alarm.net-style real-time callbacks.
    pub fn has_callbacks(&self) -> bool {
        matches!(self, ProviderKind::TotalConnect)
    }

    /// Checks the form of a service plan id (not whether it exists: that needs the network).
    /// Returns a sentence a dealer can act on when it is malformed.
    pub fn check_plan_id(&self, id: &str) -> Result<(), String> {
        let id = id.trim();
        if id.is_empty() {
            return Err("the service plan id is blank; leave it out or give a plan id".into());
        }
        match self {
            ProviderKind::AlarmCom => match id.parse::<u32>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!(
                    "`{id}` is not an Alarm.com package id; package ids are positive whole numbers such as 2 (Basic Interactive) or 9 (Advanced Interactive)"
                )),
            },
            ProviderKind::TotalConnect | ProviderKind::BrinksHome => {
                if id.len() <= 32
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    Ok(())
                } else {
                    Err(format!(
                        "`{id}` is not a {} plan code; plan codes are up to 32 letters, digits, '-' or '_'",
                        self.display_name()
                    ))
                }
            }
            ProviderKind::Other(_) => {
                if id.chars().any(char::is_control) {
                    Err("the service plan id contains control characters".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = std::convert::Infallible;

    /// Accepts the canonical names and common spellings (`alarm.com`, `AlarmCom`,
    /// `total-connect`, `brinks`); anything else becomes [`ProviderKind::Other`] in lower case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match norm.as_str() {
            "alarmcom" | "adc" => ProviderKind::AlarmCom,
            "totalconnect" | "honeywell" | "resideo" | "alarmnet" => ProviderKind::TotalConnect,
            "brinkshome" | "brinks" | "monitronics" => ProviderKind::BrinksHome,
            _ => ProviderKind::Other(s.trim().to_lowercase()),
        })
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
        Ok(s.parse().unwrap_or_else(|never| match never {}))
    }
}
