//! `IspCatalog`: names are unique without regard to case, surrounding spaces, Unicode normal
//! form or invisible characters, and a refused change leaves the catalog as it was.

use interactive_services::{Error, IspCatalog, IspConfig, Status};

fn config(name: &str) -> IspConfig {
    IspConfig::builder()
        .name(name)
        .provider("alarm_com")
        .credential("login", format!("login-of-{name}"))
        .credential("password", "correct horse")
        .build()
        .expect("valid config")
}

/// Name, login and status of every entry, in order: enough to see whether anything changed.
fn snapshot(catalog: &IspCatalog) -> Vec<(String, String, Status)> {
    catalog
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.credentials().expose("login").unwrap_or("").to_owned(),
                c.status(),
            )
        })
        .collect()
}

fn two_entries() -> IspCatalog {
    let mut catalog = IspCatalog::new();
    catalog.add(config("Alarm.com")).unwrap();
    catalog.add(config("Alarm.com (sub-dealer)")).unwrap();
    catalog
}

#[test]
fn a_new_catalog_is_empty() {
    let catalog = IspCatalog::new();
    assert!(catalog.is_empty());
    assert_eq!(catalog.len(), 0);
    assert!(catalog.get("Alarm.com").is_none());
}

#[test]
fn add_then_get_in_order() {
    let catalog = two_entries();
    assert_eq!(catalog.len(), 2);
    assert!(!catalog.is_empty());
    let names: Vec<&str> = catalog.iter().map(IspConfig::name).collect();
    assert_eq!(names, vec!["Alarm.com", "Alarm.com (sub-dealer)"]);
    assert_eq!(
        catalog
            .get("Alarm.com (sub-dealer)")
            .and_then(|c| c.credentials().expose("login")),
        Some("login-of-Alarm.com (sub-dealer)")
    );
}

#[test]
fn get_ignores_case_and_surrounding_whitespace() {
    let catalog = two_entries();
    for lookup in ["alarm.com", "ALARM.COM", "  Alarm.com  ", "\talarm.COM\n"] {
        let found = catalog
            .get(lookup)
            .unwrap_or_else(|| panic!("{lookup:?} not found"));
        assert_eq!(found.name(), "Alarm.com", "{lookup:?}");
    }
    assert!(catalog.get("Alarm").is_none());
    assert!(catalog.get("Alarm.com (main)").is_none());
}

#[test]
fn adding_a_duplicate_name_is_a_conflict_and_changes_nothing() {
    let mut catalog = two_entries();
    let before = snapshot(&catalog);
    let err = catalog.add(config("  alarm.COM ")).unwrap_err();
    match &err {
        Error::Conflict {
            provider,
            operation,
            message,
            existing,
            ..
        } => {
            assert_eq!(*existing, None, "a catalog name conflict names no account");
            assert_eq!(provider, "alarm_com");
            assert_eq!(*operation, "catalog.add");
            assert!(message.contains("alarm.COM"), "{message}");
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(catalog.len(), 2);
    assert_eq!(snapshot(&catalog), before);
    // The original entry is still the one found.
    assert_eq!(
        catalog
            .get("alarm.com")
            .and_then(|c| c.credentials().expose("login")),
        Some("login-of-Alarm.com")
    );
}

#[test]
fn remove_ignores_case_and_returns_the_entry() {
    let mut catalog = two_entries();
    let removed = catalog.remove(" ALARM.com ").expect("removed");
    assert_eq!(removed.name(), "Alarm.com");
    assert_eq!(catalog.len(), 1);
    assert!(catalog.get("Alarm.com").is_none());
    assert!(catalog.remove("Alarm.com").is_none());
    assert_eq!(catalog.len(), 1);
    // The name is free again.
    catalog.add(config("alarm.com")).unwrap();
    assert_eq!(catalog.len(), 2);
}

#[test]
fn replace_swaps_the_entry_in_place() {
    let mut catalog = two_entries();
    let updated = config("Alarm.com").with_status(Status::Inactive);
    let old = catalog.replace("alarm.com", updated).unwrap();
    assert_eq!(old.status(), Status::Active);
    assert_eq!(catalog.len(), 2);
    assert_eq!(catalog.get("Alarm.com").unwrap().status(), Status::Inactive);
    // Order is kept.
    assert_eq!(catalog.iter().next().unwrap().name(), "Alarm.com");
}

#[test]
fn replace_may_rename_to_a_free_name() {
    let mut catalog = two_entries();
    catalog
        .replace("Alarm.com", config("Alarm.com (main)"))
        .unwrap();
    assert!(catalog.get("Alarm.com").is_none());
    assert!(catalog.get("alarm.com (MAIN)").is_some());
    assert_eq!(catalog.len(), 2);
}

#[test]
fn replace_keeping_its_own_name_with_different_case_works() {
    let mut catalog = two_entries();
    catalog.replace("Alarm.com", config("ALARM.COM")).unwrap();
    assert_eq!(catalog.len(), 2);
    let names: Vec<&str> = catalog.iter().map(IspConfig::name).collect();
    assert_eq!(names, vec!["ALARM.COM", "Alarm.com (sub-dealer)"]);
}

#[test]
fn replace_renaming_onto_another_entry_is_a_conflict_and_changes_nothing() {
    let mut catalog = two_entries();
    let before = snapshot(&catalog);
    let err = catalog
        .replace(
            "Alarm.com",
            config(" alarm.com (SUB-DEALER) ").with_status(Status::Inactive),
        )
        .unwrap_err();
    match err {
        Error::Conflict { operation, .. } => assert_eq!(operation, "catalog.replace"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(snapshot(&catalog), before);
}

#[test]
fn replace_of_an_unknown_name_is_not_found_and_changes_nothing() {
    let mut catalog = two_entries();
    let before = snapshot(&catalog);
    let err = catalog
        .replace("Total Connect", config("Total Connect"))
        .unwrap_err();
    match err {
        Error::NotFound {
            operation, what, ..
        } => {
            assert_eq!(operation, "catalog.replace");
            assert!(what.contains("Total Connect"), "{what}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(snapshot(&catalog), before);
}

// ---------------------------------------------------------------------------------------------
// Unicode: normal forms and invisible characters

#[test]
fn nfc_and_nfd_spellings_of_a_name_are_the_same_entry() {
    let nfc = "Caf\u{e9}";
    let nfd = "Cafe\u{301}";
    let mut catalog = IspCatalog::new();
    catalog.add(config(nfc)).unwrap();
    let err = catalog.add(config(nfd)).unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(catalog.len(), 1);
    assert!(catalog.get(nfd).is_some());
    assert!(catalog.get("CAFE\u{301}").is_some());

    // The other way round too, and the name is stored in NFC.
    let mut catalog = IspCatalog::new();
    catalog.add(config(nfd)).unwrap();
    assert_eq!(catalog.iter().next().unwrap().name(), nfc);
    assert!(matches!(
        catalog.add(config(nfc)),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn a_zero_width_character_does_not_make_a_new_name() {
    let mut catalog = two_entries();
    let before = snapshot(&catalog);
    for sneaky in [
        "Alarm\u{200B}.com",
        "Alarm.com\u{200D}",
        "\u{FEFF}Alarm.com",
        "Al\u{AD}arm.com",
        "Alarm\u{2060}.com",
        "Alarm\u{200C}.COM",
        "\u{200B} Alarm.com \u{200B}",
    ] {
        let err = catalog.add(config(sneaky)).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{sneaky:?}: {err:?}");
        assert_eq!(snapshot(&catalog), before, "{sneaky:?}");
        assert_eq!(
            catalog.get(sneaky).map(IspConfig::name),
            Some("Alarm.com"),
            "{sneaky:?}"
        );
    }
    // Renaming onto it with a zero-width space is refused as well.
    let err = catalog
        .replace("Alarm.com (sub-dealer)", config("alarm\u{200B}.com"))
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(snapshot(&catalog), before);
}

#[test]
fn a_stored_name_has_no_invisible_characters() {
    let config = config("\u{200B}Alarm\u{FEFF}.com\u{200D} ");
    assert_eq!(config.name(), "Alarm.com");
}

#[test]
fn a_conflict_does_not_quote_a_name_holding_the_password() {
    // A password pasted into the name: the conflict says a name exists, not which.
    let secret = "qzx-vkjwy-Zq9";
    let with_secret = |name: &str| {
        IspConfig::builder()
            .name(name)
            .provider("alarm_com")
            .credential("login", "u")
            .credential("password", secret)
            .build()
            .unwrap()
    };
    let mut catalog = IspCatalog::new();
    catalog.add(with_secret(secret)).unwrap();
    let err = catalog.add(with_secret(secret)).unwrap_err();
    let shown = format!("{err} {err:?} {catalog:?}").to_lowercase();
    assert!(!shown.contains(&secret.to_lowercase()), "{shown}");
}
