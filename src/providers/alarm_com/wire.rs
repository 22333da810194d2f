//! Alarm.com's wire format: namespace, services, operations, enums, request bodies and
//! response parsing. Nothing here does I/O.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::http::soap::{Element, Node};
use crate::model::{
    AccountId, AccountStatus, AddOn, Address, BuilderProgramId, CentralStationForwarding, Contact,
    DealerCustomerId, FeatureId, IspAccount, PlanId, PropertyType, ProvisionRequest,
};

/// The target namespace of every Alarm.com dealer web service.
pub(crate) const NAMESPACE: &str = "http://www.alarm.com/WebServices";
/// What every `SOAPAction` starts with: the namespace and a slash.
pub(crate) const ACTION_BASE: &str = "http://www.alarm.com/WebServices/";

/// The two services the provider talks to, siblings on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `CustomerManagement.asmx`: customers, plans, add-ons.
    CustomerManagement,
    /// `DealerManagement.asmx`: packages, caller version, login roles.
    DealerManagement,
}

impl Service {
    /// The file name under `WebServices/`.
    pub fn file(self) -> &'static str {
        match self {
            Service::CustomerManagement => "CustomerManagement.asmx",
            Service::DealerManagement => "DealerManagement.asmx",
        }
    }
}

/// The `SOAPAction` (1.1) or `action` (1.2) of an operation.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // the simulator checks it
pub(crate) fn action(op: &str) -> String {
    format!("{NAMESPACE}/{op}")
}

macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[allow(missing_docs)]
                $variant,
            )+
            /// A value this version of the crate does not know, kept exactly as received.
            Other(String),
        }

        impl $name {
            /// Every value the crate knows.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as it travels on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                    $name::Other(s) => s,
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            /// Never fails: unknown values become `Other`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(match s {
                    $(stringify!($variant) => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// `AddOnFeatureEnum`: the add-on features seen in public client code. The list grows;
    /// unknown values round-trip as [`AddOnFeature::Other`].
    AddOnFeature {
        VoiceNotificationsForAlarms, LightAutomation, UserCodeControl, RemoteArming,
        ThermostatControl, ArmingSupervision, NormalActivityReports, ArmingReports,
        ArmingSchedules, ProVideo, ProVideoPlus, TwoWayVoice, WeatherToPanel, ZWaveLights,
        ZWaveThermostats, ZWaveLocks, ZWaveEnergy, SevereWeatherAlerts, ImageSensorAlarms,
        ImageSensorPlus, GarageDoors, Wellness, AdvancedEnergy, AdvancedAutomation,
        WaterManagement, SolarMonitoring, DoorbellCameras, AccessControl,
    }
);

open_enum!(
    /// `PackageGroupEnum`: the plan families.
    PackageGroup { WSF, BI, AI, VideoOnly, NoEquipment, NonSecurityHub }
);

open_enum!(
    /// `PanelType`: panel families seen in public client code.
    PanelType { Concord, Simon, NX, IQPanel, IQPanel2, Neo, GoControl3, NoPanel }
);

impl From<AddOnFeature> for FeatureId {
    fn from(f: AddOnFeature) -> Self {
        FeatureId::new(f.as_str())
    }
}

/// Add-ons sold by quantity (set with `SetAddOnQuantity`), as far as public client code shows.
/// Modelled: the public record does not list them; video add-ons are the usual ones.
pub(crate) fn is_quantity_add_on(feature: &str) -> bool {
    matches!(feature, "ProVideo" | "ProVideoPlus")
}

/// The `Authentication` SOAP header.
pub(crate) fn authentication_header(user: &str, password: &str, two_factor: &str) -> Node {
    Node::new("Authentication")
        .xmlns(NAMESPACE)
        .field("User", user)
        .field("Password", password)
        .field("TwoFactorDeviceId", two_factor)
}

/// The `CountryId` of an ISO country code.
pub(crate) fn country_id(iso: &str) -> String {
    // Modelled: Alarm.com's CountryId enum names; ISO codes the crate knows are mapped, others
    // are sent as given.
    match iso.trim().to_ascii_uppercase().as_str() {
        "" | "US" | "USA" => "USA".into(),
        "CA" | "CAN" => "Canada".into(),
        "MX" => "Mexico".into(),
        other => other.to_owned(),
    }
}

/// The ISO code of a `CountryId` the crate sends (`USA` → `US`); other values as they are.
pub(crate) fn iso_country(country_id: &str) -> String {
    match country_id.trim() {
        "USA" => "US".into(),
        "Canada" => "CA".into(),
        "Mexico" => "MX".into(),
        other => other.to_owned(),
    }
}

/// An address element (`CustomerAccountAddress`, `InstallationAddress`), with the contact's
/// name first when given.
pub(crate) fn address_node(name: &str, contact: Option<&Contact>, a: &Address) -> Node {
    let mut n = Node::new(name);
    if let Some(c) = contact {
        n = n
            .field("FirstName", c.first_name.as_str())
            .field("LastName", c.last_name.as_str())
            .opt_field("CompanyName", c.company.as_deref());
    }
    n.field("Street1", a.street1.as_str())
        .opt_field("Street2", a.street2.as_deref())
        .field("City", a.city.as_str())
        .field("State", a.state.as_str())
        .field("Zip", a.zip.as_str())
        .field("CountryId", country_id(&a.country))
}

fn add_on_list(name: &str, features: impl IntoIterator<Item = impl AsRef<str>>) -> Node {
    Node::new(name).children(
        features
            .into_iter()
            .map(|f| Node::text_element("AddOnFeatureEnum", f.as_ref())),
    )
}

/// The `input` of `CreateCustomer` (and `CreateCustomerForDealer`), fields in the service's
/// sequence order. `BuilderProgramId` is sent only when `builder_program` is given: the
/// provider gives it only for a configuration that opted into the Builder Program, never from
/// the request alone.
pub(crate) fn create_customer_input(
    req: &ProvisionRequest,
    plan: &PlanId,
    builder_program: Option<&BuilderProgramId>,
) -> Node {
    let on_off = req
        .add_ons
        .iter()
        .filter(|a| a.quantity.is_none())
        .map(|a| a.feature.as_str());
    Node::new("input")
        .child(address_node(
            "CustomerAccountAddress",
            Some(&req.contact),
            &req.address,
        ))
        .opt_field("CustomerAccountEmail", req.contact.email.as_deref())
        .opt_field("CustomerAccountPhone", req.contact.phone.as_deref())
        .field("DealerCustomerId", req.dealer_customer_id.as_str())
        .opt_field("DesiredLoginName", req.desired_login.as_deref())
        .child(address_node(
            "InstallationAddress",
            None,
            req.installation_address.as_ref().unwrap_or(&req.address),
        ))
        .opt_field("InstallationTimeZone", req.time_zone.as_deref())
        .opt_field("PanelType", req.panel_type.as_deref())
        .opt_field("ModemSerialNumber", req.modem_serial.as_deref())
        .field("PackageId", plan.as_str())
        .child(add_on_list("AddOnFeatures", on_off))
        .child(
            Node::new("CustomerNotifications").children(
                req.notification_emails
                    .iter()
                    .map(|e| Node::text_element("Email", e.as_str())),
            ),
        )
        .field(
            "CentralStationForwardingOption",
            match &req.central_station_forwarding {
                None => "NotSet",
                Some(CentralStationForwarding::Never) => "Never",
                Some(CentralStationForwarding::Always) => "Always",
                Some(CentralStationForwarding::OnlyIfPhoneFails) => "OnlyIfPhoneFails",
                Some(CentralStationForwarding::Other(s)) => s.as_str(),
            },
        )
        .field(
            "PropertyType",
            match &req.property_type {
                None => "NotSet",
                Some(PropertyType::SingleFamilyHouse) => "SingleFamilyHouse",
                Some(PropertyType::Townhouse) => "Townhouse",
                Some(PropertyType::Condo) => "Condo",
                Some(PropertyType::Business) => "Business",
                Some(PropertyType::Other(s)) => s.as_str(),
            },
        )
        .opt_field("BuilderProgramId", builder_program.map(|b| b.as_str()))
}

/// An operation whose parameters start with `customerId`.
pub(crate) fn customer_request(op: &str, customer_id: i64) -> Node {
    Node::new(op)
        .xmlns(NAMESPACE)
        .field("customerId", customer_id.to_string())
}

/// `ChangeServicePlan` / `ChangeServicePlanValidationOnly` parameters.
pub(crate) fn change_service_plan(
    op: &str,
    customer_id: i64,
    package_id: &str,
    add_ons: impl IntoIterator<Item = impl AsRef<str>>,
) -> Node {
    customer_request(op, customer_id)
        .field("newPackageId", package_id)
        .child(add_on_list("addOnFeatures", add_ons))
}

/// Why an answer could not be read (becomes `InvalidResponse`).
pub(crate) type ParseError = String;

/// Reads `true`/`false`.
pub(crate) fn parse_bool(text: &str) -> Result<bool, ParseError> {
    match text.trim() {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        other => Err(format!("`{other}` is not a boolean")),
    }
}

/// Reads an integer.
fn plan_id_text(info: &Element) -> Option<&str> {
    info.child("ServicePlanInfo")
        .and_then(|p| p.child_text("PackageId"))
        .filter(|p| !p.is_empty())
}

/// An id in an answer: a positive whole number (customer ids, package ids, lookups that found
/// something). Zero, negative and out-of-range values are refused.
pub(crate) fn parse_id(text: &str, what: &str) -> Result<i64, ParseError> {
    match parse_int(text)? {
        n if n > 0 => Ok(n),
        n => Err(format!("{what} {n} is not an id (ids are positive)")),
    }
}

pub(crate) fn parse_int(text: &str) -> Result<i64, ParseError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("`{}` is not a whole number", text.trim()))
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() || t.starts_with("0001-01-01") {
        return None;
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|n| n.and_utc())
        })
}

/// A `{Success, ErrorMessage}` result: `Ok(())` or the vendor's message.
pub(crate) fn success(result: &Element) -> Result<Result<(), String>, ParseError> {
    let ok = parse_bool(
        result
            .child_text("Success")
            .ok_or("the result has no Success element")?,
    )?;
    if ok {
        Ok(Ok(()))
    } else {
        let msg = result
            .child_text("ErrorMessage")
            .filter(|m| !m.is_empty())
            .unwrap_or("the service answered Success=false without a message");
        Ok(Err(msg.to_owned()))
    }
}

/// Reads a `CustomerInfo` into an account.
pub(crate) fn parse_customer_info(info: &Element) -> Result<IspAccount, ParseError> {
    let id = info
        .child_text("CustomerId")
        .ok_or("CustomerInfo has no CustomerId")?;
    let id = parse_id(id, "CustomerId")?;
    let plan = match plan_id_text(info) {
        None => None,
        Some(p) => Some(PlanId::new(parse_id(p, "PackageId")?.to_string())),
    };
    let text = |name: &str| {
        info.child_text(name)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let plan_info = info.child("ServicePlanInfo");
    let mut add_ons: BTreeSet<AddOn> = BTreeSet::new();
    if let Some(list) = plan_info.and_then(|p| p.child("Addons")) {
        for a in &list.children {
            let name = a.text.trim();
            if !name.is_empty() {
                add_ons.insert(AddOn {
                    feature: FeatureId::new(name),
                    quantity: None,
                });
            }
        }
    }
    if let Some(list) = plan_info.and_then(|p| p.child("AddonQuantities")) {
        for q in &list.children {
            let (Some(name), Some(n)) = (q.child_text("AddOn"), q.child_text("Quantity")) else {
                return Err("an AddonQuantity lacks AddOn or Quantity".into());
            };
            let n = u32::try_from(parse_int(n)?)
                .map_err(|_| format!("quantity `{n}` is out of range"))?;
            add_ons.retain(|a| a.feature.as_str() != name);
            if n > 0 {
                add_ons.insert(AddOn {
                    feature: FeatureId::new(name),
                    quantity: Some(n),
                });
            }
        }
    }
    let terminated = match info.child_text("IsTerminated") {
        Some(t) => parse_bool(t)?,
        None => false,
    };
    Ok(IspAccount {
        id: AccountId::new(id.to_string()),
        dealer_customer_id: text("DealerCustomerId").map(DealerCustomerId::new),
        contact: Contact {
            first_name: text("FirstName").unwrap_or_default(),
            last_name: text("LastName").unwrap_or_default(),
            company: text("CompanyName"),
            email: text("PrimaryEmail"),
            phone: text("PrimaryPhoneNumber"),
        },
        login_name: text("LoginName"),
        initial_password: None,
        plan,
        add_ons,
        status: if terminated {
            AccountStatus::Terminated
        } else {
            AccountStatus::Active
        },
        created_at: info.child_text("JoinDate").and_then(parse_time),
    })
}

/// Alarm.com's answer parsers are internal; their hostile-input tests live here.
#[cfg(test)]
mod tests {
    use super::parse_customer_info;
    use crate::http::soap;

    const INFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCustomerInfoResponse xmlns="http://www.alarm.com/WebServices"><GetCustomerInfoResult><CustomerId>7000001</CustomerId><DealerCustomerId>D-1</DealerCustomerId><FirstName>Ada</FirstName><LastName>Love&amp;lace</LastName><IsTerminated>false</IsTerminated><JoinDate>2026-01-15T09:30:00</JoinDate><ServicePlanInfo><PackageId>9</PackageId><Addons><AddOnFeatureEnum>LightAutomation</AddOnFeatureEnum></Addons><AddonQuantities><AddonQuantity><AddOn>ProVideo</AddOn><Quantity>2</Quantity></AddonQuantity></AddonQuantities></ServicePlanInfo></GetCustomerInfoResult></GetCustomerInfoResponse></soap:Body></soap:Envelope>"#;

    fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        for _ in 0..rng.usize(1..6) {
            if v.is_empty() {
                break;
            }
            let at = rng.usize(..v.len());
            match rng.u8(..5) {
                0 => v[at] = rng.u8(..),
                1 => v.truncate(at),
                2 => v.insert(at, *rng.choice(b"<>&;/\"'=#x0 ").unwrap_or(&b'<')),
                3 => {
                    let end = (at + rng.usize(1..40)).min(v.len());
                    v.drain(at..end);
                }
                _ => {
                    let end = (at + rng.usize(1..40)).min(v.len());
                    let chunk = v[at..end].to_vec();
                    v.splice(at..at, chunk);
                }
            }
        }
        v
    }

    #[test]
    fn mutated_envelopes_never_panic_the_reader_or_the_parser() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let input = mutate(&mut rng, INFO.as_bytes());
            if let Ok(el) = soap::read_envelope(&input) {
                if let Some(r) = el.child("GetCustomerInfoResult") {
                    if parse_customer_info(r).is_ok() {
                        parsed += 1;
                    }
                }
            }
        }
        // Some mutations leave a readable envelope: the parser was reached, not only the reader.
        assert!(parsed > 0);
    }

    #[test]
    fn the_unmutated_sample_parses() {
        let el = soap::read_envelope(INFO.as_bytes()).expect("envelope");
        let account = parse_customer_info(el.child("GetCustomerInfoResult").expect("result"))
            .expect("account");
        assert_eq!(account.contact.last_name, "Love&lace");
        assert!(
            account
                .add_ons
                .iter()
                .any(|a| a.feature.as_str() == "ProVideo" && a.quantity == Some(2))
        );
    }
}
#[cfg(test)]
#[path = "wire_proptest.rs"]
mod proptests;
