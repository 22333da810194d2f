//! The signature scheme: HMAC-SHA256 over `"{timestamp}.{body}"`, sent as
//! `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` in the [`SIGNATURE_HEADER`]; [`Verifier`] checks it,
//! [`sign`] and [`signature_header`] make it.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::CallbackConfig;

type HmacSha256 = Hmac<Sha256>;

/// The request header that carries the signature (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-isp-signature";

/// How far a timestamp may be from the receiver's clock, either way, unless the configuration
/// says otherwise ([`CallbackConfig::tolerance_seconds`]).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The largest body a [`Verifier`] takes unless told otherwise: 256 KiB (a callback carries one
/// event of a few hundred bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The longest signature header read; a longer one is malformed.
pub const MAX_HEADER_BYTES: usize = 4096;

/// Most `v1=` signatures read from one header (two during a rotation); more is malformed.
pub const MAX_SIGNATURES: usize = 8;

/// Hex digits of one `v1=` signature (an HMAC-SHA256 is 32 bytes).
const SIGNATURE_HEX_LEN: usize = 64;

/// Why a delivery was refused. One variant per reason; [`reason`](Self::reason) gives the
/// stable key it is counted under, [`http_status`](Self::http_status) the answer.
///
/// No variant carries a secret, a signature or any part of the body: the `Display` text is
/// safe to answer, log and show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No signature header.
    #[error("the request has no {SIGNATURE_HEADER} header")]
    MissingSignature,
    /// The signature header is there but cannot be read (empty, too long, not ASCII, an element
    /// that is not `key=value`, two timestamps, a timestamp that is not a number).
    #[error("the {SIGNATURE_HEADER} header is malformed: {problem}")]
    MalformedSignature {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The signature header has no `t=` timestamp.
    #[error("the {SIGNATURE_HEADER} header has no t= timestamp")]
    MissingTimestamp,
    /// The signature header has no `v1=` signature.
    #[error("the {SIGNATURE_HEADER} header has no v1= signature")]
    MissingSignatureValue,
    /// A `v1=` signature is not 64 hexadecimal digits.
    #[error("a v1= signature is not 64 hexadecimal digits")]
    SignatureNotHex,
    /// The signature does not match the body under the one configured secret: the body was
    /// changed on the way, or the vendor signs with another secret.
    #[error(
        "the signature does not match the body: it was changed on the way, or the vendor signs with another secret"
    )]
    BadSignature,
    /// With two secrets configured (a rotation), neither the current nor the previous one
    /// matches: the vendor signs with a third secret, or the body was changed.
    #[error("no configured secret (current or previous) matches the signature")]
    NoSecretMatches,
    /// The timestamp is older than the tolerance: a replay, or a delivery held up for long.
    #[error("the timestamp is {age_seconds} s old; at most {tolerance_seconds} s is accepted")]
    TimestampTooOld {
        /// How old it is.
        age_seconds: u64,
        /// The tolerance.
        tolerance_seconds: u64,
    },
    /// The timestamp is further ahead of the receiver's clock than the tolerance: one of the
    /// two clocks is wrong.
    #[error(
        "the timestamp is {ahead_seconds} s ahead of this server's clock; at most {tolerance_seconds} s is accepted"
    )]
    TimestampInFuture {
        /// How far ahead it is.
        ahead_seconds: u64,
        /// The tolerance.
        tolerance_seconds: u64,
    },
    /// The body is larger than the cap (answered 413).
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is signed correctly but is not a callback the provider can read (not JSON,
    /// not UTF-8, nested too deep, no event id, no account).
    #[error("the body is not a callback the provider can read: {problem}")]
    MalformedBody {
        /// What is wrong, without quoting the body.
        problem: String,
    },
}

/// The key a [`Rejection`] is counted under, one per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectionReason {
    /// [`Rejection::MissingSignature`].
    MissingSignature,
    /// [`Rejection::MalformedSignature`].
    MalformedSignature,
    /// [`Rejection::MissingTimestamp`].
    MissingTimestamp,
    /// [`Rejection::MissingSignatureValue`].
    MissingSignatureValue,
    /// [`Rejection::SignatureNotHex`].
    SignatureNotHex,
    /// [`Rejection::BadSignature`].
    BadSignature,
    /// [`Rejection::NoSecretMatches`].
    NoSecretMatches,
    /// [`Rejection::TimestampTooOld`].
    TimestampTooOld,
    /// [`Rejection::TimestampInFuture`].
    TimestampInFuture,
    /// [`Rejection::BodyTooLarge`].
    BodyTooLarge,
    /// [`Rejection::MalformedBody`].
    MalformedBody,
}

impl RejectionReason {
    /// Every reason.
    pub const ALL: [RejectionReason; 11] = [
        RejectionReason::MissingSignature,
        RejectionReason::MalformedSignature,
        RejectionReason::MissingTimestamp,
        RejectionReason::MissingSignatureValue,
        RejectionReason::SignatureNotHex,
        RejectionReason::BadSignature,
        RejectionReason::NoSecretMatches,
        RejectionReason::TimestampTooOld,
        RejectionReason::TimestampInFuture,
        RejectionReason::BodyTooLarge,
        RejectionReason::MalformedBody,
    ];

    /// The stable key (`bad_signature`), as counted in the store and shown in health.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::MissingSignature => "missing_signature",
            RejectionReason::MalformedSignature => "malformed_signature",
            RejectionReason::MissingTimestamp => "missing_timestamp",
            RejectionReason::MissingSignatureValue => "missing_signature_value",
            RejectionReason::SignatureNotHex => "signature_not_hex",
            RejectionReason::BadSignature => "bad_signature",
            RejectionReason::NoSecretMatches => "no_secret_matches",
            RejectionReason::TimestampTooOld => "timestamp_too_old",
            RejectionReason::TimestampInFuture => "timestamp_in_future",
            RejectionReason::BodyTooLarge => "body_too_large",
            RejectionReason::MalformedBody => "malformed_body",
        }
    }

    /// The reason whose key is `key`.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == key)
    }

    /// A few words for a person (`bad signature`).
    pub fn label(self) -> &'static str {
        match self {
            RejectionReason::MissingSignature => "no signature header",
            RejectionReason::MalformedSignature => "malformed signature header",
            RejectionReason::MissingTimestamp => "no timestamp (t=)",
            RejectionReason::MissingSignatureValue => "no signature (v1=)",
            RejectionReason::SignatureNotHex => "signature not hexadecimal",
            RejectionReason::BadSignature => "bad signature",
            RejectionReason::NoSecretMatches => "no secret matches",
            RejectionReason::TimestampTooOld => "timestamp too old",
            RejectionReason::TimestampInFuture => "timestamp too far ahead",
            RejectionReason::BodyTooLarge => "body too large",
            RejectionReason::MalformedBody => "unreadable body",
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Rejection {
    /// The key it is counted under.
    pub fn reason(&self) -> RejectionReason {
        match self {
            Rejection::MissingSignature => RejectionReason::MissingSignature,
            Rejection::MalformedSignature { .. } => RejectionReason::MalformedSignature,
            Rejection::MissingTimestamp => RejectionReason::MissingTimestamp,
            Rejection::MissingSignatureValue => RejectionReason::MissingSignatureValue,
            Rejection::SignatureNotHex => RejectionReason::SignatureNotHex,
            Rejection::BadSignature => RejectionReason::BadSignature,
            Rejection::NoSecretMatches => RejectionReason::NoSecretMatches,
            Rejection::TimestampTooOld { .. } => RejectionReason::TimestampTooOld,
            Rejection::TimestampInFuture { .. } => RejectionReason::TimestampInFuture,
            Rejection::BodyTooLarge { .. } => RejectionReason::BodyTooLarge,
            Rejection::MalformedBody { .. } => RejectionReason::MalformedBody,
        }
    }

    /// The HTTP status to answer: 413 for a body over the cap, 401 when the signature or its
    /// timestamp does not hold, 400 for a header or body that cannot be read.
    pub fn http_status(&self) -> u16 {
        match self {
            Rejection::BodyTooLarge { .. } => 413,
            Rejection::BadSignature
            | Rejection::NoSecretMatches
            | Rejection::TimestampTooOld { .. }
            | Rejection::TimestampInFuture { .. } => 401,
            Rejection::MissingSignature
            | Rejection::MalformedSignature { .. }
            | Rejection::MissingTimestamp
            | Rejection::MissingSignatureValue
            | Rejection::SignatureNotHex
            | Rejection::MalformedBody { .. } => 400,
        }
    }
}

/// Which configured secret a verified delivery was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedSecret {
    /// The current signing secret.
    Current,
    /// The previous secret, still accepted during a rotation: once the vendor signs with the
    /// current one only, remove it.
    Previous,
}

/// A delivery whose signature holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The signed timestamp.
    pub timestamp: DateTime<Utc>,
    /// The secret that matched.
    pub secret: MatchedSecret,
}

/// Checks deliveries against one configuration's secrets: the signature (in constant time,
/// through [`hmac`]'s `verify_slice`), the timestamp window both ways, and the body cap. Either
/// secret matches while a rotation is under way.
///
/// `Debug` shows how many secrets there are, never one.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use interactive_services::callbacks::{Rejection, Verifier, signature_header};
///
/// let verifier = Verifier::new("whsec-0123456789abcdef");
/// let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
/// let body = br#"{"EventId":"evt-1"}"#;
/// let header = signature_header(now.timestamp(), body, &["whsec-0123456789abcdef"]);
/// assert!(verifier.verify(Some(header.as_bytes()), body, now).is_ok());
///
/// // The body changed on the way.
/// let tampered = br#"{"EventId":"evt-2"}"#;
/// assert_eq!(
///     verifier.verify(Some(header.as_bytes()), tampered, now),
///     Err(Rejection::BadSignature)
/// );
/// ```
#[derive(Clone)]
pub struct Verifier {
    current: SecretString,
    previous: Option<SecretString>,
    tolerance: Duration,
    max_body: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &(1 + usize::from(self.previous.is_some())))
            .field("tolerance", &self.tolerance)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl Verifier {
    /// A verifier with one secret, the default tolerance (300 s) and body cap (256 KiB).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            current: SecretString::from(secret.into()),
            previous: None,
            tolerance: DEFAULT_TOLERANCE,
            max_body: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// A verifier for a configuration's callback settings: its secret, its previous secret
    /// when a rotation is under way, its tolerance; the default body cap.
    pub fn from_config(config: &CallbackConfig) -> Self {
        Self {
            current: config.signing_secret.clone(),
            previous: config.previous_secret.clone(),
            tolerance: Duration::from_secs(u64::from(config.tolerance_seconds)),
            max_body: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Accepts `secret` too (the one being rotated out).
    pub fn previous_secret(mut self, secret: impl Into<String>) -> Self {
        self.previous = Some(SecretString::from(secret.into()));
        self
    }

    /// How far a timestamp may be from now, either way.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The largest body taken, in bytes.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The body cap, in bytes: a receiver reads at most this much (plus one byte, to know it
    /// is over).
    pub fn body_limit(&self) -> usize {
        self.max_body
    }

    /// The tolerance.
    pub fn window(&self) -> Duration {
        self.tolerance
    }

    /// Whether a previous secret is accepted too (a rotation is under way).
    pub fn rotating(&self) -> bool {
        self.previous.is_some()
    }

    /// Checks a declared body length (`Content-Length`) before reading the body.
    pub fn check_length(&self, length: u64) -> Result<(), Rejection> {
        if usize::try_from(length).map_or(true, |n| n > self.max_body) {
            return Err(Rejection::BodyTooLarge {
                limit: self.max_body,
            });
        }
        Ok(())
    }

    /// Verifies a delivery: `header` is the [`SIGNATURE_HEADER`]'s raw value (`None` when the
    /// request has none), `body` the raw body, `now` the receiver's time.
    ///
    /// In this order: the body cap; the header's form (`t=` once, at least one `v1=` of 64 hex
    /// digits, at most [`MAX_SIGNATURES`]); the signatures against each secret, in constant
    /// time; the timestamp window (exactly the tolerance is still accepted). A signature is
    /// checked before its timestamp, so that a timestamp rejection means a genuine delivery
    /// that came too late (or too early), never a forgery.
    pub fn verify(
        &self,
        header: Option<&[u8]>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, Rejection> {
        if body.len() > self.max_body {
            return Err(Rejection::BodyTooLarge {
                limit: self.max_body,
            });
        }
        let parsed = parse_header(header)?;
        let secret = self
            .matching_secret(parsed.timestamp_text, body, &parsed.signatures)
            .ok_or(if self.previous.is_some() {
                Rejection::NoSecretMatches
            } else {
                Rejection::BadSignature
            })?;
        let tolerance = self.tolerance.as_secs();
        let delta = now.timestamp().saturating_sub(parsed.timestamp.timestamp());
        if delta > 0 && delta.unsigned_abs() > tolerance {
            return Err(Rejection::TimestampTooOld {
                age_seconds: delta.unsigned_abs(),
                tolerance_seconds: tolerance,
            });
        }
        if delta < 0 && delta.unsigned_abs() > tolerance {
            return Err(Rejection::TimestampInFuture {
                ahead_seconds: delta.unsigned_abs(),
                tolerance_seconds: tolerance,
            });
        }
        Ok(Verified {
            timestamp: parsed.timestamp,
            secret,
        })
    }

    /// The secret one of `signatures` was made with, comparing in constant time.
    fn matching_secret(
        &self,
        timestamp: &str,
        body: &[u8],
        signatures: &[[u8; 32]],
    ) -> Option<MatchedSecret> {
        let secrets = [
            Some((&self.current, MatchedSecret::Current)),
            self.previous.as_ref().map(|p| (p, MatchedSecret::Previous)),
        ];
        for (secret, which) in secrets.into_iter().flatten() {
            let mac = mac_over(secret.expose_secret().as_bytes(), timestamp, body);
            // Every signature is compared (no early exit on the first mismatch), each in
            // constant time.
            let mut matched = false;
            for signature in signatures {
                matched |= mac.clone().verify_slice(signature).is_ok();
            }
            if matched {
                return Some(which);
            }
        }
        None
    }
}

/// The HMAC state after `"{timestamp}.{body}"`.
fn mac_over(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// HMAC accepts keys of every length, so this is never reached; an HMAC over an empty key
/// stands in rather than a panic.
fn unreachable_hmac() -> HmacSha256 {
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

struct ParsedHeader<'a> {
    timestamp_text: &'a str,
    timestamp: DateTime<Utc>,
    signatures: Vec<[u8; 32]>,
}

fn malformed(problem: &'static str) -> Rejection {
    Rejection::MalformedSignature { problem }
}

fn parse_header(header: Option<&[u8]>) -> Result<ParsedHeader<'_>, Rejection> {
    let raw = header.ok_or(Rejection::MissingSignature)?;
    if raw.len() > MAX_HEADER_BYTES {
        return Err(malformed("it is longer than 4096 bytes"));
    }
    let text = std::str::from_utf8(raw)
        .ok()
        .filter(|t| t.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .ok_or(malformed("it is not printable ASCII"))?
        .trim();
    if text.is_empty() {
        return Err(malformed("it is empty"));
    }
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    let mut not_hex = false;
    let mut v1_count = 0usize;
    for element in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((key, value)) = element.split_once('=') else {
            return Err(malformed("an element is not key=value"));
        };
        match key.trim() {
            "t" => {
                let earlier = timestamp_text.replace(value.trim());
                if earlier.is_some() {
                    return Err(malformed("it has more than one t="));
                }
            }
            "v1" => {
                v1_count += 1;
                if v1_count > MAX_SIGNATURES {
                    return Err(malformed("it has more than 8 v1= signatures"));
                }
                let value = value.trim();
                let mut bytes = [0u8; 32];
                if value.len() == SIGNATURE_HEX_LEN
                    && hex::decode_to_slice(value, &mut bytes).is_ok()
                {
                    signatures.push(bytes);
                } else {
                    not_hex = true;
                }
            }
            // Other schemes (a future v2, a vendor's v0) are not ours to judge.
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(Rejection::MissingTimestamp)?;
    if v1_count == 0 {
        return Err(Rejection::MissingSignatureValue);
    }
    if not_hex {
        return Err(Rejection::SignatureNotHex);
    }
    let seconds = (!timestamp_text.is_empty()
        && timestamp_text.len() <= 12
        && timestamp_text.bytes().all(|b| b.is_ascii_digit()))
    .then(|| timestamp_text.parse::<i64>().ok())
    .flatten()
    .ok_or(malformed("t= is not a Unix time in seconds"))?;
    let timestamp = DateTime::from_timestamp(seconds, 0).ok_or(malformed("t= is out of range"))?;
    Ok(ParsedHeader {
        timestamp_text,
        timestamp,
        signatures,
    })
}

/// The `v1` signature of `body` at `timestamp` (Unix seconds) under `secret`: 64 lowercase hex
/// digits. The inverse of [`Verifier::verify`], for simulators and host tests.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac_over(secret.as_bytes(), &timestamp.to_string(), body);
    hex::encode(mac.finalize().into_bytes())
}

/// The whole [`SIGNATURE_HEADER`] value for `body` at `timestamp`: `t=…` and one `v1=` per
/// secret (two during a rotation), as a vendor sends it.
///
/// ```
/// use interactive_services::callbacks::{Verifier, signature_header};
/// # use chrono::{TimeZone, Utc};
/// # let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
/// let header = signature_header(now.timestamp(), b"{}", &["new-secret-0123456789", "old-secret-0123456789"]);
/// assert!(header.starts_with("t=1750000000,v1="));
/// // A receiver that only knows the old secret still accepts it.
/// assert!(Verifier::new("old-secret-0123456789").verify(Some(header.as_bytes()), b"{}", now).is_ok());
/// ```
pub fn signature_header(timestamp: i64, body: &[u8], secrets: &[&str]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&sign(secret, timestamp, body));
    }
    header
}
