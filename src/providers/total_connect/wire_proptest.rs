//! Property tests of Total Connect's answer types (the JSON replies, read with
//! `serde_json::from_slice`) and of the result-code table ([`classify`], [`meaning`]): nothing a
//! vendor answers may panic the host, and every refusal is a typed error.
//!
//! Inputs are real-shaped replies with their fields replaced by arbitrary values (numbers past
//! `i64`, `1e308`, lone surrogates, controls, deep nesting), keys repeated, left out, escaped
//! or misspelt; typed replies written and read back; and byte-level mutations of real replies.
//! No failure file is written (`failure_persistence: None`); a failure prints its shrunk input.

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngAlgorithm;

use crate::mutation::{mutate, mutation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    AccountListReply, AccountRecord, AccountRef, AccountReply, CodeClass, CreateReply, PlanRecord,
    PlansReply, RESULT_CODES, ResultStatus, ServicesChange, StatusReply, classify, meaning,
};
use crate::providers::total_connect::{result_error, to_account};

/// `cases` cases, no failure file, and the XorShift generator: in a debug build ChaCha costs
/// more than most of the properties themselves.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// reading every reply type

/// Reads `bytes` as `T`; what is accepted must write and read back unchanged.
fn read<T>(bytes: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    match serde_json::from_slice::<T>(bytes) {
        Ok(value) => {
            let written = serde_json::to_vec(&value).expect("an accepted reply writes");
            let again: T = serde_json::from_slice(&written).expect("a written reply reads");
            assert_eq!(again, value, "the reply changed when written and read back");
            Some(value)
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an unexplained refusal");
            None
        }
    }
}

fn check_status(status: &ResultStatus) {
    let error = result_error("operation", status);
    assert_eq!(
        error.is_none(),
        classify(status.code) == CodeClass::Success,
        "code {}",
        status.code
    );
    if let Some(e) = error {
        assert!(!e.to_string().is_empty());
    }
}

fn check_record(record: AccountRecord) {
    let id = record.account_id.clone();
    let status = record.status.clone();
    let account = to_account(record);
    assert_eq!(account.id.as_str(), id);
    if status.as_deref() == Some("Terminated") {
        assert_eq!(account.status, crate::model::AccountStatus::Terminated);
    }
}

/// Every reply type on `bytes`, as the provider reads them; returns the `StatusReply` reading.
fn read_all(bytes: &[u8]) -> Option<StatusReply> {
    if let Some(r) = read::<PlansReply>(bytes) {
        check_status(&r.status);
    }
    if let Some(r) = read::<CreateReply>(bytes) {
        check_status(&r.status);
    }
    if let Some(r) = read::<AccountReply>(bytes) {
        check_status(&r.status);
        if let Some(record) = r.account {
            check_record(record);
        }
    }
    if let Some(r) = read::<AccountListReply>(bytes) {
        check_status(&r.status);
    }
    if let Some(record) = read::<AccountRecord>(bytes) {
        check_record(record);
    }
    let _ = read::<PlanRecord>(bytes);
    let _ = read::<AccountRef>(bytes);
    let _ = read::<ServicesChange>(bytes);
    let _ = read::<ResultStatus>(bytes);
    let status = read::<StatusReply>(bytes);
    if let Some(r) = &status {
        check_status(&r.status);
    }
    status
}

// ---------------------------------------------------------------------------------------------
// JSON values

/// Numbers a JSON answer may hold, in range and not, and some that are not JSON numbers.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "4500",
    "-102",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e308",
    "-1e308",
    "1e309",
    "-1e400",
    "1E2",
    "0.5",
    "-0.0",
    "4.9e-324",
    "1e-400",
    "01",
    "+1",
    ".5",
    "1.",
    "1e",
    "-",
    "NaN",
    "Infinity",
    "0x10",
];

/// String literals a JSON parser must refuse or decode with care.
const STRINGS: &[&str] = &[
    r#""""#,
    r#"" ""#,
    r#""\u0000""#,
    r#""\ud800""#,
    r#""\udc00\ud800""#,
    r#""\uD83E\uDD80""#,
    r#""\uD83E""#,
    r#""\u00e9\u0301""#,
    r#""\x41""#,
    r#""\'""#,
    r#""\/\b\f\n\r\t\"\\""#,
    "\"\u{1}\"",
    "\"\u{7f}\"",
    "\"line\nbreak\"",
    r#""unterminated"#,
    r#""Active""#,
    r#""Terminated""#,
    r#""2026-03-01T10:00:00Z""#,
    r#""2026-03-01T10:00:00+99:00""#,
    r#""+275760-09-13T00:00:00Z""#,
    r#""0000-00-00T00:00:00Z""#,
    r#""2016-12-31T23:59:60Z""#,
];

/// Other values: literals, empty containers, unbalanced ones, garbage.
const OTHERS: &[&str] = &[
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "[null]",
    "{\"\":null}",
    "[1,]",
    "{,}",
    "[",
    "}",
    "nul",
    "True",
    "undefined",
    "'single'",
    "",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(any::<char>(), 0..16).prop_map(String::from_iter),
        1 => select(&["", " ", "Success", "TC-BASIC", "880001", "DLR-77", "\u{0}", "\u{feff}", "\u{fffd}", "\u{10ffff}"][..])
            .prop_map(str::to_owned),
    ]
}

/// A well-formed JSON string holding any text.
fn json_string() -> impl Strategy<Value = String> {
    text().prop_map(|t| serde_json::to_string(&t).expect("a string writes"))
}

fn deep(depth: usize, open: &str, close: &str) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// Any value at all, usually not the one a field expects.
fn hostile_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(NUMBERS).prop_map(str::to_owned),
        3 => select(STRINGS).prop_map(str::to_owned),
        2 => select(OTHERS).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| serde_json::to_string(&f).expect("a float writes")),
        2 => json_string(),
        1 => (1usize..300, select(&[("[", "]"), ("{\"a\":", "}"), ("[{\"Account\":", "}]")][..]))
            .prop_map(|(n, (open, close))| deep(n, open, close)),
        1 => vec(select(NUMBERS), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
    ]
    .boxed()
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Str,
    OptStr,
    StrList,
    Plans,
    Account,
    Refs,
}

/// A field: its key, the kind of value it holds, and whether a reply must have it.
type Field = (&'static str, Kind, bool);

const PLAN_FIELDS: &[Field] = &[
    ("PlanCode", Kind::Str, true),
    ("Name", Kind::Str, true),
    ("AccountType", Kind::OptStr, false),
];

const REF_FIELDS: &[Field] = &[
    ("AccountId", Kind::Str, true),
    ("DealerCustomerId", Kind::OptStr, false),
];

const ACCOUNT_FIELDS: &[Field] = &[
    ("AccountId", Kind::Str, false),
    ("DealerCustomerId", Kind::OptStr, false),
    ("CityNumber", Kind::Str, true),
    ("CsNumber", Kind::Str, true),
    ("SubscriberNumber", Kind::Str, true),
    ("MacAddress", Kind::Str, true),
    ("Crc", Kind::Str, true),
    ("AccountType", Kind::Str, true),
    ("FirstName", Kind::Str, true),
    ("LastName", Kind::Str, true),
    ("Phones", Kind::StrList, false),
    ("Email", Kind::OptStr, false),
    ("LocationName", Kind::Str, true),
    ("PlanCode", Kind::Str, true),
    ("Features", Kind::StrList, false),
    ("Status", Kind::OptStr, false),
    ("CreatedAt", Kind::OptStr, false),
];

/// Every field any reply has: one generator serves all the reply types.
const REPLY_FIELDS: &[Field] = &[
    ("ResultCode", Kind::Int, true),
    ("ResultData", Kind::Str, false),
    ("Plans", Kind::Plans, false),
    ("AccountId", Kind::OptStr, false),
    ("Account", Kind::Account, false),
    ("Accounts", Kind::Refs, false),
    ("PlanCode", Kind::Str, false),
    ("Features", Kind::StrList, false),
];

fn codes() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => select(RESULT_CODES).prop_map(|(c, _, _)| c),
        1 => any::<i64>(),
        1 => -60_000i64..10_000,
    ]
}

fn array(items: Vec<String>) -> String {
    format!("[{}]", items.join(","))
}

/// `good`, except `h` times in 1000 `bad`; exactly `good` when `h` is 0.
fn pick<T: Debug + Clone + 'static>(
    h: u32,
    good: impl Strategy<Value = T> + 'static,
    bad: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    if h == 0 {
        good.boxed()
    } else {
        prop_oneof![(1000 - h) => good, h => bad].boxed()
    }
}

/// A value of the kind a field expects, or (with hostility `h`) anything.
fn value(kind: Kind, h: u32) -> BoxedStrategy<String> {
    let expected = match kind {
        Kind::Int => codes().prop_map(|c| c.to_string()).boxed(),
        Kind::Str => json_string().boxed(),
        Kind::OptStr => prop_oneof![4 => json_string(), 1 => Just("null".to_owned())].boxed(),
        Kind::StrList => vec(json_string(), 0..4).prop_map(array).boxed(),
        Kind::Plans => vec(object(PLAN_FIELDS, h), 0..3).prop_map(array).boxed(),
        Kind::Account => prop_oneof![
            4 => object(ACCOUNT_FIELDS, h),
            1 => Just("null".to_owned())
        ]
        .boxed(),
        Kind::Refs => vec(object(REF_FIELDS, h), 0..3).prop_map(array).boxed(),
    };
    pick(h, expected, hostile_value())
}

/// The key as written: exact, or with its first letter escaped (the same key to a JSON
/// reader); with hostility, lower-cased or padded (other keys).
fn key(name: &'static str, h: u32) -> BoxedStrategy<String> {
    let same = prop_oneof![
        12 => Just(format!("\"{name}\"")),
        1 => Just(format!(
            "\"\\u{:04x}{}\"",
            u32::from(name.as_bytes()[0]),
            &name[1..]
        )),
    ];
    let other = prop_oneof![
        Just(format!("\"{}\"", name.to_lowercase())),
        Just(format!("\"{name} \"")),
    ];
    pick(h, same, other)
}

/// The entries of an object with `fields`. At hostility 0 each required field is there once,
/// each optional one once or not at all, and unknown keys hold well-formed values; above,
/// fields go missing or repeat and values are anything. Any order.
fn entries(fields: &'static [Field], h: u32) -> BoxedStrategy<Vec<(String, String)>> {
    let each: Vec<BoxedStrategy<Vec<(String, String)>>> = fields
        .iter()
        .map(|&(name, kind, required)| {
            let count = if required {
                pick(h, Just(1usize), select(&[0usize, 2][..]))
            } else {
                pick(h, select(&[0usize, 1][..]), Just(2usize))
            };
            (count, key(name, h), value(kind, h), select(NUMBERS))
                .prop_map(|(count, k, v, again)| match count {
                    0 => Vec::new(),
                    1 => vec![(k, v)],
                    _ => vec![(k.clone(), v), (k, again.to_owned())],
                })
                .boxed()
        })
        .collect();
    let unknown = pick(
        h,
        vec(
            (
                json_string(),
                prop_oneof![json_string(), any::<i64>().prop_map(|n| n.to_string())],
            ),
            0..2,
        ),
        vec((json_string(), hostile_value()), 1..3),
    );
    (each, unknown, prop::option::of(any::<u64>()))
        .prop_map(|(each, extra, shuffle)| {
            let mut all: Vec<(String, String)> = each.into_iter().flatten().collect();
            all.extend(extra);
            if let Some(seed) = shuffle {
                fastrand::Rng::with_seed(seed).shuffle(&mut all);
            }
            all
        })
        .boxed()
}

/// Entries at hostility 0, 1%, 5% and 20%, with the level.
fn leveled(fields: &'static [Field]) -> impl Strategy<Value = (u32, Vec<(String, String)>)> {
    prop_oneof![
        entries(fields, 0).prop_map(|e| (0, e)),
        entries(fields, 10).prop_map(|e| (10, e)),
        entries(fields, 50).prop_map(|e| (50, e)),
        entries(fields, 200).prop_map(|e| (200, e)),
    ]
}

fn object_text(entries: &[(String, String)]) -> String {
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", body.join(","))
}

fn object(fields: &'static [Field], h: u32) -> BoxedStrategy<String> {
    entries(fields, h).prop_map(|e| object_text(&e)).boxed()
}

/// The code a well-formed reply carries: its one `ResultCode`, a JSON integer in range.
fn the_code(entries: &[(String, String)]) -> Option<i64> {
    let named = |name: &str| -> Vec<&String> {
        entries
            .iter()
            .filter(|(k, _)| serde_json::from_str::<String>(k).is_ok_and(|k| k == name))
            .map(|(_, v)| v)
            .collect()
    };
    let codes = named("ResultCode");
    let data = named("ResultData");
    let [code] = codes.as_slice() else {
        return None;
    };
    let data_ok = match data.as_slice() {
        [] => true,
        [d] => serde_json::from_str::<String>(d).is_ok(),
        _ => false,
    };
    let n = code
        .parse::<i64>()
        .ok()
        .filter(|n| n.to_string() == **code)?;
    data_ok.then_some(n)
}

// ---------------------------------------------------------------------------------------------
// byte mutations of real replies

const SAMPLES: &[&str] = &[
    r#"{"ResultCode":0,"ResultData":"Success","Plans":[
    {"PlanCode":"TC-BASIC","Name":"Total Connect Basic","AccountType":"Residential"},
    {"PlanCode":"TC-COMM","Name":"Total Connect Commercial","AccountType":"Commercial"}]}"#,
    r#"{"ResultCode":0,"ResultData":"Success","Account":{"AccountId":"880001","DealerCustomerId":"DLR-77","CityNumber":"31","CsNumber":"07","SubscriberNumber":"004242","MacAddress":"00:D0:2D:12:34:56","Crc":"BEEF","AccountType":"Residential","FirstName":"Jane","LastName":"Doe","Phones":["5555550199"],"Email":"jane@example.com","LocationName":"Home","PlanCode":"TC-BASIC","Features":["Automation","SomethingNew2030"],"Status":"Active","CreatedAt":"2026-03-01T10:00:00Z"}}"#,
    r#"{"ResultCode": 0, "ResultData": "Success", "AccountId": "880001"}"#,
    r#"{"ResultCode":0,"ResultData":"Success","Accounts":[{"AccountId":"880001","DealerCustomerId":"DLR-77"},{"AccountId":"880002"}]}"#,
    r#"{"ResultCode":-102,"ResultData":"Invalid session"}"#,
    r#"{"ResultCode":-50004,"ResultData":"Input validation failed: bad user name or password"}"#,
    r#"{"ResultCode":4500,"ResultData":"Command accepted"}"#,
    "\u{feff}{\r\n  \"ResultCode\" : -4002 ,\r\n  \"ResultData\" : \"Invalid location \\u00e9\\ud83e\\udd80\"\r\n}\r\n",
    r#"{"PlanCode":"TC-VIDEO","Features":["Geofencing","SomethingNew2030"]}"#,
];

const INSERTS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"0",
    b"-",
    b"e",
    b".",
    b"9",
    b" ",
    b"null",
    b"true",
    b"1e309",
    b"99999999999999999999",
    b"\"ResultCode\":",
    b"\"Account\":{",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\xED\xA0\x80",
    b"\x00",
];

/// JSON tokens for token soup.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    " ",
    "\n",
    "\"ResultCode\"",
    "\"ResultData\"",
    "\"Plans\"",
    "\"Account\"",
    "\"Accounts\"",
    "\"AccountId\"",
    "\"PlanCode\"",
    "\"Features\"",
    "0",
    "-102",
    "1e309",
    "null",
    "true",
    "\"x\"",
    "\"\\ud800\"",
    "\"",
    "\\",
    "\u{feff}",
];

// ---------------------------------------------------------------------------------------------
// typed replies

fn status() -> impl Strategy<Value = ResultStatus> {
    (codes(), text()).prop_map(|(code, data)| ResultStatus { code, data })
}

fn record() -> impl Strategy<Value = AccountRecord> {
    (
        (
            text(),
            prop::option::of(text()),
            text(),
            text(),
            text(),
            text(),
        ),
        (text(), text(), text(), text(), vec(text(), 0..3)),
        (
            prop::option::of(text()),
            text(),
            text(),
            vec(text(), 0..3),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (
                    account_id,
                    dealer_customer_id,
                    city_number,
                    cs_number,
                    subscriber_number,
                    mac_address,
                ),
                (crc, account_type, first_name, last_name, phones),
                (email, location_name, plan_code, features, status, created_at),
            )| AccountRecord {
                account_id,
                dealer_customer_id,
                city_number,
                cs_number,
                subscriber_number,
                mac_address,
                crc,
                account_type,
                first_name,
                last_name,
                phones,
                email,
                location_name,
                plan_code,
                features,
                status,
                created_at,
            },
        )
}

fn write_and_read<T>(value: &T, pretty: bool) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let bytes = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .expect("a reply writes");
    let back: T = serde_json::from_slice(&bytes).expect("a written reply reads");
    prop_assert_eq!(&back, value);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the properties

proptest! {
    #![proptest_config(config(10_000))]

    /// Every `i64` has a class and a meaning; the table's codes have theirs, every other code
    /// is `Unknown`; the crate error exists exactly for the codes that are not successes.
    #[test]
    fn every_result_code_is_classified(code in codes(), data in text()) {
        let entry = RESULT_CODES.iter().find(|(c, _, _)| *c == code);
        match entry {
            Some((_, class, text)) => {
                prop_assert_eq!(classify(code), *class);
                prop_assert_eq!(meaning(code), *text);
            }
            None => {
                prop_assert_eq!(classify(code), CodeClass::Unknown);
                prop_assert_eq!(meaning(code), "unknown result code");
            }
        }
        check_status(&ResultStatus { code, data });
    }
}

proptest! {
    #![proptest_config(config(2_500))]

    /// Replies of every shape with fields holding anything, repeated, left out, escaped or
    /// misspelt: each reply type reads or refuses; what it accepts writes and reads back
    /// unchanged. A well-formed object with one integer `ResultCode` reads as a
    /// `StatusReply` carrying that code.
    #[test]
    fn replies_with_arbitrary_fields_never_panic((h, entries) in leveled(REPLY_FIELDS)) {
        let json = object_text(&entries);
        let status = read_all(json.as_bytes());
        let well_formed = serde_json::from_str::<serde_json::Value>(&json).is_ok();
        if let (true, Some(code)) = (well_formed, the_code(&entries)) {
            prop_assert_eq!(status.map(|s| s.status.code), Some(code), "{}", json);
        }
        if h == 0 {
            // Every field as the reply types expect it: every reply type reads it.
            let bytes = json.as_bytes();
            prop_assert!(serde_json::from_slice::<PlansReply>(bytes).is_ok(), "{}", json);
            prop_assert!(serde_json::from_slice::<CreateReply>(bytes).is_ok(), "{}", json);
            prop_assert!(serde_json::from_slice::<AccountReply>(bytes).is_ok(), "{}", json);
            prop_assert!(serde_json::from_slice::<AccountListReply>(bytes).is_ok(), "{}", json);
        }
    }
}

proptest! {
    #![proptest_config(config(1_200))]

    /// An account record of any shape, on its own and inside an `AccountReply`.
    #[test]
    fn account_records_with_arbitrary_fields_never_panic((h, entries) in leveled(ACCOUNT_FIELDS), code in codes()) {
        let record = object_text(&entries);
        read_all(record.as_bytes());
        let reply = format!(r#"{{"ResultCode":{code},"ResultData":"","Account":{record}}}"#);
        read_all(reply.as_bytes());
        if h == 0 {
            prop_assert!(serde_json::from_str::<AccountRecord>(&record).is_ok(), "{}", record);
            let read = serde_json::from_str::<AccountReply>(&reply);
            prop_assert!(read.is_ok_and(|r| r.account.is_some() && r.status.code == code), "{}", reply);
        }
    }
}

proptest! {
    #![proptest_config(config(12_000))]

    /// Real replies mutated at the byte level.
    #[test]
    fn replies_never_panic_when_mutated(sample in select(SAMPLES), mutations in vec(mutation(INSERTS), 1..5)) {
        read_all(&mutate(sample.as_bytes(), &mutations));
    }
}

proptest! {
    #![proptest_config(config(8_000))]

    /// Token soup and arbitrary bytes.
    #[test]
    fn replies_never_panic_on_token_soup(
        tokens in vec(
            prop_oneof![
                6 => select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
                1 => any::<u8>().prop_map(|b| vec![b]),
            ],
            0..40,
        )
    ) {
        read_all(&tokens.concat());
    }
}

proptest! {
    #![proptest_config(config(2_500))]

    /// Typed replies holding any text and any code write and read back unchanged, compact or
    /// pretty; an account read back converts to the same account.
    #[test]
    fn typed_replies_read_back(
        status in status(),
        record in record(),
        plans in vec((text(), text(), prop::option::of(text())), 0..3),
        refs in vec((text(), prop::option::of(text())), 0..3),
        id in prop::option::of(text()),
        pretty in any::<bool>(),
    ) {
        write_and_read(&StatusReply { status: status.clone() }, pretty)?;
        write_and_read(&CreateReply { status: status.clone(), account_id: id }, pretty)?;
        write_and_read(&AccountReply { status: status.clone(), account: Some(record.clone()) }, pretty)?;
        write_and_read(&PlansReply {
            status: status.clone(),
            plans: plans
                .into_iter()
                .map(|(plan_code, name, account_type)| PlanRecord { plan_code, name, account_type })
                .collect(),
        }, pretty)?;
        write_and_read(&AccountListReply {
            status,
            accounts: refs
                .into_iter()
                .map(|(account_id, dealer_customer_id)| AccountRef { account_id, dealer_customer_id })
                .collect(),
        }, pretty)?;
        write_and_read(&record, pretty)?;
        let bytes = serde_json::to_vec(&record).expect("writes");
        let back: AccountRecord = serde_json::from_slice(&bytes).expect("reads");
        prop_assert_eq!(format!("{:?}", to_account(back)), format!("{:?}", to_account(record)));
    }
}

/// The samples, unmutated, read as the replies they are (the one behind a BOM does not:
/// `serde_json` refuses a byte-order mark, which is an error, not a panic).
#[test]
fn the_samples_read() {
    let read: Vec<Option<StatusReply>> = SAMPLES.iter().map(|s| read_all(s.as_bytes())).collect();
    assert!(read[..7].iter().all(Option::is_some), "{read:?}");
}
