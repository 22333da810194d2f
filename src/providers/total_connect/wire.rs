//! Total Connect's wire format: the TC2 SOAP login (seen), the result-code table (seen), and
//! the AlarmNet 360 dealer API (modelled as JSON with bearer tokens). Nothing here does I/O.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::http::soap::XmlError;
use crate::http::soap::stream::{Cursor, Fields, Text, first_text, read_fields};

/// The TC2 SOAP namespace; `SOAPAction` is this plus the operation.
pub(crate) const NAMESPACE: &str = "https://services.alarmnet.com/TC2/";
/// Path of the TC2 SOAP service under the host.
pub(crate) const SOAP_PATH: &str = "TC21api/tc2.asmx";
/// Path of the (modelled) AlarmNet 360 dealer API under the host.
pub(crate) const DEALER_API_PATH: &str = "AlarmNet360/api/v1/";

/// Longest e-mail AlarmNet accepts (it triggers the Total Connect welcome e-mail).
pub(crate) const MAX_EMAIL_CHARS: usize = 50;
/// Most phone numbers on an account.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))] // the simulator checks it
pub(crate) const MAX_PHONES: usize = 3;

/// What a result code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// Success (0), or a command accepted to be carried out (4500).
    Success,
    /// The session is no longer valid: log in once more and retry once (-102, -30002).
    InvalidSession,
    /// The credentials were rejected or the account is locked: never log in again with them
    /// (-100, -123, -7625, -50004).
    BadCredentials,
    /// Try again later: the panel or the system cannot be reached (4101, -4104, -4108).
    Retryable,
    /// The login is not authorized for this (-9001).
    NotAuthorized,
    /// The feature is not supported (-120).
    Unsupported,
    /// A parameter was refused (-501).
    InvalidParameter,
    /// The location (account) does not exist (-4002).
    NotFound,
    /// The service's own unknown error (-999).
    VendorError,
    /// A code the crate does not know: fail closed.
    Unknown,
}

/// Every result code of the public table, with its class and meaning.
pub const RESULT_CODES: &[(i64, CodeClass, &str)] = &[
    (0, CodeClass::Success, "success"),
    (
        4500,
        CodeClass::Success,
        "command accepted; poll for the state",
    ),
    (
        4101,
        CodeClass::Retryable,
        "the panel cannot be reached; try again",
    ),
    (-100, CodeClass::BadCredentials, "authentication failed"),
    (-102, CodeClass::InvalidSession, "invalid session"),
    (-120, CodeClass::Unsupported, "feature not supported"),
    (-123, CodeClass::BadCredentials, "the account is locked"),
    (-501, CodeClass::InvalidParameter, "invalid parameter"),
    (-999, CodeClass::VendorError, "unknown error"),
    (-4002, CodeClass::NotFound, "invalid location"),
    (
        -4104,
        CodeClass::Retryable,
        "cannot connect to the system; try again later",
    ),
    (
        -4108,
        CodeClass::Retryable,
        "cannot connect to the system; try again later",
    ),
    (-7625, CodeClass::BadCredentials, "bad e-mail or password"),
    (-9001, CodeClass::NotAuthorized, "authorization failed"),
    (-30002, CodeClass::InvalidSession, "invalid session id"),
    (
        -50004,
        CodeClass::BadCredentials,
        "input validation failed (bad user name or password)",
    ),
];

/// The class of a result code; unknown codes are [`CodeClass::Unknown`].
pub(crate) fn classify(code: i64) -> CodeClass {
    RESULT_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(CodeClass::Unknown)
}

/// The table's meaning of a code.
pub(crate) fn meaning(code: i64) -> &'static str {
    RESULT_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, m)| *m)
        .unwrap_or("unknown result code")
}

/// The code and text every answer carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResultStatus {
    /// `ResultCode`.
    #[serde(rename = "ResultCode")]
    pub code: i64,
    /// `ResultData`.
    #[serde(rename = "ResultData", default)]
    pub data: String,
}

/// A plan (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PlanRecord {
    /// The plan code.
    pub plan_code: String,
    /// Its name.
    pub name: String,
    /// `Residential` or `Commercial`.
    #[serde(default)]
    pub account_type: Option<String>,
}

/// `GET .../plans` (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PlansReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
    /// The plans.
    #[serde(default)]
    pub plans: Vec<PlanRecord>,
}

/// An AlarmNet 360 account (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountRecord {
    /// The account id (left out when creating).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_id: String,
    /// The dealer's customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_customer_id: Option<String>,
    /// City number.
    pub city_number: String,
    /// Central station number.
    pub cs_number: String,
    /// Subscriber number.
    pub subscriber_number: String,
    /// The communicator's MAC.
    pub mac_address: String,
    /// The communicator's CRC.
    pub crc: String,
    /// `Residential` or `Commercial`.
    pub account_type: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Up to three phones.
    #[serde(default)]
    pub phones: Vec<String>,
    /// E-mail, at most 50 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Location name.
    pub location_name: String,
    /// Plan code.
    pub plan_code: String,
    /// Features (add-ons).
    #[serde(default)]
    pub features: Vec<String>,
    /// `Active`, `Terminated`, or another state (left out when creating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Creation time (RFC 3339; left out when creating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `POST .../accounts` answer (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
    /// The new account's id.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// `GET .../accounts/{id}` answer (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
    /// The account.
    #[serde(default)]
    pub account: Option<AccountRecord>,
}

/// An account id in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountRef {
    /// The id.
    pub account_id: String,
    /// The dealer's customer id, when the service gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_customer_id: Option<String>,
}

/// `GET .../accounts` answer (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AccountListReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
    /// The accounts.
    #[serde(default)]
    pub accounts: Vec<AccountRef>,
}

/// `PUT .../accounts/{id}/services` body (modelled): the full set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServicesChange {
    /// The plan code.
    pub plan_code: String,
    /// Every feature the account should have.
    pub features: Vec<String>,
}

/// An answer that carries only the result (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
}
/// The callback registration as the dealer API keeps it (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallbackRecord {
    /// Where callbacks go.
    pub url: String,
    /// Whether they are sent.
    pub enabled: bool,
    /// When the URL was registered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<String>,
    /// The last delivery attempt (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    /// The HTTP status of the last attempt; absent when it got no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_status: Option<u16>,
    /// Failed attempts since the last successful one.
    #[serde(default)]
    pub failed_attempts: u64,
}

/// `PUT .../callback` body (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallbackRegistrationRequest {
    /// Where callbacks go.
    pub url: String,
    /// Whether they are sent.
    pub enabled: bool,
}

/// `GET .../callback` and `PUT .../callback` answer (modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallbackReply {
    /// Result code and text.
    #[serde(flatten)]
    pub status: ResultStatus,
    /// The registration; absent when none.
    #[serde(default)]
    pub callback: Option<CallbackRecord>,
}

#[cfg(test)]
#[path = "wire_proptest.rs"]
mod proptests;

/// `AuthenticateUserLoginResponse` read on the stream: the first
/// `AuthenticateUserLoginResult`'s `ResultCode`, `ResultData` and `SessionID` (the first of
/// each, untrimmed).
#[derive(Debug, Default)]
pub(crate) struct LoginResponse<'a> {
    /// The result, when there is one.
    pub(crate) result: Option<LoginResult<'a>>,
}

/// The fields of `AuthenticateUserLoginResult`.
#[derive(Debug, Default)]
pub(crate) struct LoginResult<'a> {
    pub(crate) code: Option<Text<'a>>,
    pub(crate) data: Option<Text<'a>>,
    pub(crate) session: Option<Text<'a>>,
}

impl<'a> Fields<'a> for LoginResult<'a> {
    fn child(&mut self, name: &str, c: &mut Cursor<'a>) -> Result<(), XmlError> {
        match name {
            "ResultCode" => first_text(c, &mut self.code),
            "ResultData" => first_text(c, &mut self.data),
            "SessionID" => first_text(c, &mut self.session),
            _ => c.skip(),
        }
    }
}

impl<'a> Fields<'a> for LoginResponse<'a> {
    fn child(&mut self, name: &str, c: &mut Cursor<'a>) -> Result<(), XmlError> {
        if name == "AuthenticateUserLoginResult" && self.result.is_none() {
            let mut result = LoginResult::default();
            read_fields(c, &mut result)?;
            self.result = Some(result);
            Ok(())
        } else {
            c.skip()
        }
    }
}

/// What a login answered, owned: the trimmed `ResultCode`, `ResultData` and `SessionID` of the
/// result, or `None` when there is no result.
pub(crate) type LoginFields = Option<(Option<String>, Option<String>, Option<SecretString>)>;

/// Decodes `AuthenticateUserLoginResponse` on the stream (the cursor is inside it).
pub(crate) fn decode_login(c: &mut Cursor<'_>) -> Result<LoginFields, XmlError> {
    let mut response = LoginResponse::default();
    read_fields(c, &mut response)?;
    let trimmed = |t: &Option<Text<'_>>| t.as_deref().map(|t| t.trim().to_owned());
    Ok(response.result.map(|r| {
        (
            trimmed(&r.code),
            trimmed(&r.data),
            trimmed(&r.session).map(SecretString::from),
        )
    }))
}
