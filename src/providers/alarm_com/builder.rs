//! Alarm.com's Builder Program: the builder programs a dealer takes part in, commitments
//! (pre-wired homes nobody lives in yet) and builder customers. Partly **seen**, partly
//! **modelled**.
//!
//! | crate call | Alarm.com operation | service | seen or modelled |
//! |---|---|---|---|
//! | `builder_programs` | `GetBuilderPrograms(input{DealerId})` → `BuilderProgramInfo{BuilderProgramId, ProgramName, BuilderName}` list | DealerManagement | **modelled** |
//! | `create_builder_program_record` (commitment) | `LookupCustomerIdFromDealerCustomerId`, then `CreateCommitment(input{BuilderProgramId, DealerCustomerId, InstallationAddress, ExpectedPanelType, ExpectedInstallDate})` → `{Success, ErrorMessage, CommitmentId}` | CustomerManagement | lookup seen; create **modelled** |
//! | `create_builder_program_record` (customer) | `LookupCustomerIdFromDealerCustomerId`, then `CreateCustomer` (or `CreateCustomerForDealer`) with `BuilderProgramId` | CustomerManagement | seen |
//! | `commitment` | `GetCommitmentInfo(commitmentId)` → `CommitmentInfo{CommitmentId, BuilderProgramId, DealerCustomerId, InstallationAddress, ExpectedPanelType, ExpectedInstallDate, CommitmentStatus, CustomerId}` | CustomerManagement | **modelled** |
//! | `update_commitment` | `UpdateCommitment(input{CommitmentId, ExpectedPanelType, ExpectedInstallDate})` → `{Success, ErrorMessage}` | CustomerManagement | seen (`CommitmentId`, `ExpectedPanelType`); `ExpectedInstallDate` and the result **modelled** |
//! | `activate_commitment` | `ActivateCommitment(input{CommitmentId, PanelType, ModemSerialNumber, PackageId})` → `{Success, ErrorMessage, CustomerId}`, then `GetCustomerInfo` | CustomerManagement | seen (`CommitmentId`, `PanelType`, `ModemSerialNumber`); `PackageId` and the result **modelled** |
//!
//! Every call is refused before any request unless the configuration opted into the Builder
//! Program (`IspConfig::builder_program`): then the crate lists nothing, creates nothing, and
//! `CreateCustomer` never carries `BuilderProgramId`. Opted in, the first Builder Program call
//! of a provider reads the login's roles (`GetLoginRoles`, modelled) and refuses with
//! [`Error::PermissionDenied`](crate::Error::PermissionDenied) naming exactly the role that is
//! missing: the custom role "Builder Program" when the login has neither way in, the other
//! legacy role when it has one of "Dealer Administrator" and "Manage Builder Program". A
//! service that cannot report roles leaves the check to Alarm.com, and the first call it
//! refuses (a `Permission denied: <role>` fault, modelled) says which role it needs and how to
//! grant it. A granted (or unreadable) role check is kept for the provider's life; a refusal
//! is not, so that a role granted later works without rebuilding the provider.
//!
//! Other modelled details:
//! - a commitment id is an Alarm.com customer id (public client code lists commitments with
//!   customers: `GetCustomerList_V2` has `ExcludeCommitments`), so
//!   `LookupCustomerIdFromDealerCustomerId` finds a commitment by its dealer customer id, and
//!   saving a commitment is kept to one record per dealer customer id exactly as
//!   provisioning is (the same lookup, the same at-most-once create);
//! - `CommitmentStatus` is `Pending` or `Activated` (others round-trip as
//!   [`BuilderProgramRecordStatus::Other`]); `CustomerId` is `0` until activation;
//! - `ExpectedInstallDate` is an `xs:date` (`2026-09-01`);
//! - an activated commitment keeps its id as the customer id when `ActivateCommitment`'s
//!   result names no `CustomerId`;
//! - a second `ActivateCommitment` of an activated commitment answers `Success=false`; the
//!   crate then reads the commitment and returns the live customer.
//!
//! A service that does not know a modelled operation answers as ASMX does, and the call is
//! [`Error::Unsupported`](crate::Error::Unsupported) saying the operation was modelled —
//! never a retry. The seen calls (`UpdateCommitment`, `ActivateCommitment`, a builder
//! customer's `CreateCustomer`) do not depend on the modelled ones.

use chrono::NaiveDate;

use super::wire::{self, NAMESPACE};
use crate::http::soap::{Element, Node};
use crate::model::{
    AccountId, Address, BuilderProgram, BuilderProgramId, BuilderProgramRecord,
    BuilderProgramRecordId, BuilderProgramRecordStatus, CommitmentActivation, CommitmentDetails,
    CommitmentUpdate, DealerCustomerId, PlanId,
};

/// `GetBuilderPrograms` (modelled): the programs the dealer takes part in.
pub const LIST: &str = "GetBuilderPrograms";
/// `CreateCommitment` (modelled): records a commitment.
pub const CREATE: &str = "CreateCommitment";
/// `GetCommitmentInfo` (modelled): reads a commitment.
pub const READ: &str = "GetCommitmentInfo";
/// `UpdateCommitment` (seen): changes a pending commitment.
pub const UPDATE: &str = "UpdateCommitment";
/// `ActivateCommitment` (seen): turns a commitment into a live customer.
pub const ACTIVATE: &str = "ActivateCommitment";

/// The operations of this module that no public source shows.
pub const MODELLED: [&str; 3] = [LIST, CREATE, READ];

pub(crate) fn list_request(dealer_id: i64) -> Node {
    Node::new(LIST)
        .xmlns(NAMESPACE)
        .child(Node::new("input").field("DealerId", dealer_id.to_string()))
}

pub(crate) fn create_request(program: &BuilderProgramId, c: &CommitmentDetails) -> Node {
    Node::new(CREATE).xmlns(NAMESPACE).child(
        Node::new("input")
            .field("BuilderProgramId", program.as_str())
            .field("DealerCustomerId", c.dealer_customer_id.as_str())
            .child(wire::address_node("InstallationAddress", None, &c.address))
            .opt_field("ExpectedPanelType", c.expected_panel_type.as_deref())
            .opt_field(
                "ExpectedInstallDate",
                c.ready_date.map(|d| d.format("%Y-%m-%d").to_string()),
            ),
    )
}

pub(crate) fn read_request(commitment: i64) -> Node {
    Node::new(READ)
        .xmlns(NAMESPACE)
        .field("commitmentId", commitment.to_string())
}

pub(crate) fn update_request(commitment: i64, u: &CommitmentUpdate) -> Node {
    Node::new(UPDATE).xmlns(NAMESPACE).child(
        Node::new("input")
            .field("CommitmentId", commitment.to_string())
            .opt_field("ExpectedPanelType", u.expected_panel_type.as_deref())
            .opt_field(
                "ExpectedInstallDate",
                u.ready_date.map(|d| d.format("%Y-%m-%d").to_string()),
            ),
    )
}

pub(crate) fn activate_request(commitment: i64, a: &CommitmentActivation, plan: &PlanId) -> Node {
    Node::new(ACTIVATE).xmlns(NAMESPACE).child(
        Node::new("input")
            .field("CommitmentId", commitment.to_string())
            .field("PanelType", a.panel_type.as_str())
            .field("ModemSerialNumber", a.modem_serial.as_str())
            .field("PackageId", plan.as_str()),
    )
}

/// Reads a `GetBuilderPrograms` result.
pub(crate) fn parse_programs(result: &Element) -> Result<Vec<BuilderProgram>, wire::ParseError> {
    let mut programs: Vec<BuilderProgram> = Vec::new();
    for info in result.children_named("BuilderProgramInfo") {
        let id = info
            .child_text("BuilderProgramId")
            .ok_or("a builder program has no BuilderProgramId")?;
        let id = wire::parse_id(id, "BuilderProgramId")?.to_string();
        if programs.iter().any(|p| p.id.as_str() == id) {
            continue;
        }
        let text = |name: &str| {
            info.child_text(name)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(shown)
        };
        let name = text("ProgramName").unwrap_or_else(|| format!("Builder Program {id}"));
        programs.push(BuilderProgram::new(
            id,
            name,
            text("BuilderName").unwrap_or_default(),
        ));
    }
    Ok(programs)
}

/// Reads a `CommitmentInfo`.
pub(crate) fn parse_commitment(info: &Element) -> Result<BuilderProgramRecord, wire::ParseError> {
    let id = info
        .child_text("CommitmentId")
        .ok_or("CommitmentInfo has no CommitmentId")?;
    let id = wire::parse_id(id, "CommitmentId")?;
    let program = info
        .child_text("BuilderProgramId")
        .ok_or("CommitmentInfo has no BuilderProgramId")?;
    let program = wire::parse_id(program, "BuilderProgramId")?;
    let text = |name: &str| {
        info.child_text(name)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(shown)
    };
    let customer = match info.child_text("CustomerId").map(str::trim) {
        None | Some("" | "0") => None,
        Some(t) => Some(wire::parse_id(t, "CustomerId")?),
    };
    let status = match text("CommitmentStatus").as_deref() {
        Some("Pending") => BuilderProgramRecordStatus::Pending,
        Some("Activated") => BuilderProgramRecordStatus::Live,
        Some(other) => BuilderProgramRecordStatus::Other(other.to_owned()),
        None if customer.is_some() => BuilderProgramRecordStatus::Live,
        None => BuilderProgramRecordStatus::Pending,
    };
    if status == BuilderProgramRecordStatus::Live && customer.is_none() {
        return Err("the commitment is activated but names no CustomerId".into());
    }
    let ready_date = match text("ExpectedInstallDate") {
        None => None,
        Some(t) => Some(parse_date(&t).ok_or("ExpectedInstallDate is not a date")?),
    };
    let mut record = BuilderProgramRecord::new(
        id.to_string(),
        program.to_string(),
        DealerCustomerId::new(text("DealerCustomerId").unwrap_or_default()),
    );
    record.status = status;
    record.account = customer.map(|c| AccountId::new(c.to_string()));
    record.address = info.child("InstallationAddress").map(parse_address);
    record.expected_panel_type = text("ExpectedPanelType");
    record.ready_date = ready_date;
    Ok(record)
}

fn parse_address(a: &Element) -> Address {
    let text = |name: &str| {
        a.child_text(name)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(shown)
    };
    Address {
        street1: text("Street1").unwrap_or_default(),
        street2: text("Street2"),
        city: text("City").unwrap_or_default(),
        state: text("State").unwrap_or_default(),
        zip: text("Zip").unwrap_or_default(),
        country: text("CountryId")
            .map(|c| wire::iso_country(&c))
            .unwrap_or_default(),
    }
}

/// An `xs:date`, or the date part of an `xs:dateTime` (`2026-09-01T00:00:00`).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let day = t.split_once('T').map_or(t, |(d, _)| d);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// A `{Success, ErrorMessage}` result, or a bare boolean (how some ASMX operations answer):
/// `Ok(())` or the vendor's message.
pub(crate) fn outcome(result: &Element) -> Result<Result<(), String>, wire::ParseError> {
    if result.child("Success").is_some() {
        return wire::success(result);
    }
    match wire::parse_bool(&result.text)? {
        true => Ok(Ok(())),
        false => Ok(Err("the service answered false".into())),
    }
}

/// The id in a create or activate result (`CommitmentId`, `CustomerId`), when there is one.
pub(crate) fn result_id(result: &Element, field: &str) -> Result<Option<i64>, wire::ParseError> {
    match result.child_text(field).map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => wire::parse_id(t, field).map(Some),
    }
}

/// A commitment id going into an envelope: 1 to 18 digits, not zero.
pub(crate) fn commitment_id(id: &BuilderProgramRecordId) -> Result<i64, String> {
    let raw = id.as_str();
    let max = crate::providers::common::MAX_ID_DIGITS;
    let digits_only =
        !raw.is_empty() && raw.len() <= max && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<i64>() {
        Ok(n) if digits_only && n > 0 => Ok(n),
        _ => Err(format!(
            "the commitment id is not an Alarm.com id: ids are 1 to {max} digits, not zero ({} characters given)",
            raw.chars().count()
        )),
    }
}

/// Whether a Builder Program id can be an Alarm.com one: 1 to 18 digits, not zero.
pub(crate) fn is_program_id(id: &BuilderProgramId) -> bool {
    commitment_id(&BuilderProgramRecordId::new(id.as_str())).is_ok()
}

/// The address as Alarm.com keeps it: the country as the ISO code of the `CountryId` sent.
pub(crate) fn sent_address(a: &Address) -> Address {
    Address {
        country: wire::iso_country(&wire::country_id(&a.country)),
        ..a.clone()
    }
}

/// Whether two Builder Program ids name the same program (`0501` is `501`).
pub(crate) fn same_program(a: &BuilderProgramId, b: &BuilderProgramId) -> bool {
    match (
        a.as_str().trim().parse::<i64>(),
        b.as_str().trim().parse::<i64>(),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Vendor text kept in a record: at most 256 characters, no control characters.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::soap;

    fn result(inner: &str) -> Element {
        let env = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><R xmlns="http://www.alarm.com/WebServices"><X>{inner}</X></R></soap:Body></soap:Envelope>"#
        );
        let el = soap::read_envelope(env.as_bytes()).expect("envelope");
        el.child("X").cloned().expect("result")
    }

    #[test]
    fn commitment_info_reads_strictly() {
        let ok = result(
            "<CommitmentId>7</CommitmentId><BuilderProgramId>501</BuilderProgramId><DealerCustomerId>L-1</DealerCustomerId><ExpectedInstallDate>2026-09-01T00:00:00</ExpectedInstallDate><CommitmentStatus>Activated</CommitmentStatus><CustomerId>7</CustomerId>",
        );
        let r = parse_commitment(&ok).expect("parsed");
        assert!(r.is_live());
        assert_eq!(r.account, Some(AccountId::new("7")));
        assert_eq!(r.ready_date, NaiveDate::from_ymd_opt(2026, 9, 1));
        for bad in [
            "<BuilderProgramId>501</BuilderProgramId>",
            "<CommitmentId>0</CommitmentId><BuilderProgramId>501</BuilderProgramId>",
            "<CommitmentId>7</CommitmentId><BuilderProgramId>-1</BuilderProgramId>",
            "<CommitmentId>7</CommitmentId><BuilderProgramId>5</BuilderProgramId><CommitmentStatus>Activated</CommitmentStatus>",
            "<CommitmentId>7</CommitmentId><BuilderProgramId>5</BuilderProgramId><ExpectedInstallDate>soon</ExpectedInstallDate>",
        ] {
            assert!(parse_commitment(&result(bad)).is_err(), "{bad}");
        }
        let other = result(
            "<CommitmentId>7</CommitmentId><BuilderProgramId>5</BuilderProgramId><CommitmentStatus>OnHold</CommitmentStatus>",
        );
        assert_eq!(
            parse_commitment(&other).expect("parsed").status,
            BuilderProgramRecordStatus::Other("OnHold".into())
        );
    }

    #[test]
    fn mutated_answers_never_panic_the_parsers() {
        let info: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><R xmlns="http://www.alarm.com/WebServices"><X><CommitmentId>7</CommitmentId><BuilderProgramId>501</BuilderProgramId><DealerCustomerId>L-1</DealerCustomerId><InstallationAddress><Street1>1 A St</Street1><CountryId>USA</CountryId></InstallationAddress><ExpectedPanelType>Neo</ExpectedPanelType><ExpectedInstallDate>2026-09-01</ExpectedInstallDate><CommitmentStatus>Pending</CommitmentStatus><CustomerId>0</CustomerId><BuilderProgramInfo><BuilderProgramId>501</BuilderProgramId><ProgramName>W</ProgramName><BuilderName>A</BuilderName></BuilderProgramInfo><Success>true</Success></X></R></soap:Body></soap:Envelope>"#;
        let mut rng = fastrand::Rng::with_seed(0xb01d);
        let mut read = 0;
        for _ in 0..5_000 {
            let mut bytes = info.as_bytes().to_vec();
            for _ in 0..rng.usize(1..6) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.usize(..bytes.len());
                match rng.u8(..3) {
                    0 => bytes[at] = rng.u8(..),
                    1 => bytes.truncate(at),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if let Ok(el) = soap::read_envelope(&bytes) {
                if let Some(x) = el.child("X") {
                    read += 1;
                    let _ = parse_commitment(x);
                    let _ = parse_programs(x);
                    let _ = outcome(x);
                    let _ = result_id(x, "CommitmentId");
                }
            }
        }
        assert!(read > 0, "some mutations reach the parsers");
    }

    #[test]
    fn ids_that_cannot_travel_are_refused() {
        for bad in ["", "0", "-1", "1 ", "../1", "%2F", "1234567890123456789"] {
            assert!(
                commitment_id(&BuilderProgramRecordId::new(bad)).is_err(),
                "{bad}"
            );
        }
        assert_eq!(commitment_id(&BuilderProgramRecordId::new("42")), Ok(42));
    }
}
