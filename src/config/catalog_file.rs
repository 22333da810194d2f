//! Loading and saving a whole [`IspCatalog`]: several entries in one TOML or JSON document,
//! secrets given as references a host-supplied lookup resolves, host settings kept beside ours.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::load::{describe_parse_error, line_and_column, parse_error, toml_key_at};
use super::{ConfigRepr, IspCatalog, IspConfig, IspConfigBuilder};
use crate::error::{Error, Result, ValidationErrors};
use crate::provider::ProviderRegistry;

/// The key of the array of entries in a catalog document.
const ENTRIES: &str = "isp";
/// The key of a secret reference: `password = { secret = "env:ADC_PASSWORD" }`.
const SECRET: &str = "secret";

/// Resolves one kind of secret reference: given the part after `scheme:`, the secret value or
/// why it could not be had (a sentence without the value).
pub type SecretLookup =
    Arc<dyn Fn(&str) -> std::result::Result<String, String> + Send + Sync + 'static>;

/// Reads and writes catalog documents: which providers exist (a [`ProviderRegistry`]) and how
/// secret references are resolved.
///
/// A catalog document holds one `[[isp]]` table per entry, with the keys of
/// [`IspConfig::from_toml`]. Any secret (a credential, a callback secret) may be written as a
/// reference, `{ secret = "<scheme>:<name>" }`, resolved when the catalog is loaded: `env:`
/// (environment variables) is built in, and a host adds its secret manager with
/// [`secrets`](Self::secrets). Each entry may carry the host's own settings under `[isp.host]`;
/// they are kept as they are and written back. Every problem of every entry is reported at once,
/// with its path (`isp[1].credentials.password`), never with a secret value.
///
/// ```
/// use interactive_services::config::CatalogLoader;
///
/// let text = r#"
///     [[isp]]
///     name = "Alarm.com (main)"
///     provider = "alarm_com"
///     [isp.credentials]
///     login = "integration-user"
///     password = { secret = "vault:adc/password" }
///     [isp.host]
///     branch = "north"
/// "#;
/// let loader = CatalogLoader::new().secrets("vault", |path| match path {
///     "adc/password" => Ok("correct horse".to_owned()),
///     _ => Err("no such secret".to_owned()),
/// });
/// let catalog = loader.read_toml(text)?;
/// let entry = catalog.get("Alarm.com (main)").unwrap();
/// assert_eq!(entry.credentials().expose("password"), Some("correct horse"));
/// // Saved without the secret: the reference is written back.
/// let saved = loader.write_toml(&catalog)?;
/// assert!(saved.contains("vault:adc/password") && !saved.contains("correct horse"));
/// assert_eq!(loader.read_toml(&saved)?, catalog);
/// # Ok::<(), interactive_services::Error>(())
/// ```
#[derive(Clone)]
pub struct CatalogLoader {
    registry: ProviderRegistry,
    lookups: BTreeMap<String, SecretLookup>,
}

impl fmt::Debug for CatalogLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogLoader")
            .field("registry", &self.registry)
            .field("schemes", &self.lookups.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for CatalogLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl CatalogLoader {
    /// The built-in providers and the `env:` scheme (a process environment variable).
    pub fn new() -> Self {
        let mut lookups = BTreeMap::new();
        let env: SecretLookup = Arc::new(|name: &str| match std::env::var(name) {
            Ok(value) => Ok(value),
            Err(std::env::VarError::NotPresent) => {
                Err("the environment variable is not set".to_owned())
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err("the environment variable is not valid Unicode (UTF-8)".to_owned())
            }
        });
        lookups.insert("env".to_owned(), env);
        Self {
            registry: ProviderRegistry::with_built_ins(),
            lookups,
        }
    }

    /// Validates entries against `registry` (contributed providers included) instead of the
    /// built-in providers alone.
    pub fn registry(mut self, registry: &ProviderRegistry) -> Self {
        self.registry = registry.clone();
        self
    }

    /// Resolves references of `scheme` (`vault:` for `{ secret = "vault:adc/password" }`) with
    /// `lookup`, which gets the part after the colon. Replaces any lookup of that scheme,
    /// `env` included (a test may resolve `env:` from a map instead of the process).
    ///
    /// The lookup runs while the document is read; a host whose secret manager is async
    /// fetches the values beforehand or blocks on them here.
    pub fn secrets<F>(mut self, scheme: &str, lookup: F) -> Self
    where
        F: Fn(&str) -> std::result::Result<String, String> + Send + Sync + 'static,
    {
        self.lookups
            .insert(scheme.trim().to_ascii_lowercase(), Arc::new(lookup));
        self
    }

    /// Reads a catalog from TOML.
    pub fn read_toml(&self, text: &str) -> Result<IspCatalog> {
        let document: Value = toml::from_str(text).map_err(|e| {
            let start = e.span().map(|s| s.start);
            parse_error(
                "TOML",
                &describe_parse_error(e.message()),
                start.map(|at| line_and_column(text, at)),
                start.and_then(|at| toml_key_at(text, at)),
            )
        })?;
        self.read_value(document)
    }

    /// Reads a catalog from JSON: `{"isp": [{...}, ...]}`.
    pub fn read_json(&self, text: &str) -> Result<IspCatalog> {
        let document: Value = serde_json::from_str(text).map_err(|e| {
            let position = (e.line() > 0).then(|| (e.line(), e.column()));
            parse_error(
                "JSON",
                &describe_parse_error(&e.to_string()),
                position,
                None,
            )
        })?;
        self.read_value(document)
    }

    fn read_value(&self, document: Value) -> Result<IspCatalog> {
        let mut problems = ValidationErrors::new();
        let Value::Object(mut top) = document else {
            problems.push("", "a catalog is a table with an `isp` array of entries");
            return Err(invalid(problems));
        };
        let entries = match top.remove(ENTRIES) {
            None => Vec::new(),
            Some(Value::Array(entries)) => entries,
            Some(_) => {
                problems.push(
                    ENTRIES,
                    "`isp` must be an array of tables ([[isp]] in TOML)",
                );
                Vec::new()
            }
        };
        for key in top.keys() {
            problems.push(
                shown_key(key),
                "this key is not one interactive-services reads; a catalog holds only `isp` entries (put your own settings under each entry's `host` table)",
            );
        }
        let mut catalog = IspCatalog::new();
        // Names are checked across every entry, those with problems included.
        let mut seen: Vec<String> = Vec::new();
        for (at, entry) in entries.into_iter().enumerate() {
            let path = format!("{ENTRIES}[{at}]");
            if let Some(name) = entry.get("name").and_then(Value::as_str) {
                let key = super::name_key(name);
                if seen.contains(&key) {
                    problems.push(
                        format!("{path}.name"),
                        "an earlier entry has this name (names are compared without case and invisible characters); choose another name",
                    );
                    continue;
                }
                seen.push(key);
            }
            match self.entry(entry, &path) {
                Ok(config) => {
                    if let Err(Error::Conflict { message, .. }) = catalog.add(config) {
                        problems.push(format!("{path}.name"), message);
                    }
                }
                Err(entry_problems) => {
                    for p in entry_problems {
                        let field = if p.field.is_empty() {
                            path.clone()
                        } else {
                            format!("{path}.{}", p.field)
                        };
                        problems.push(field, p.message);
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(invalid(problems))
        }
    }

    /// One entry: references resolved, host settings set aside, then validated against the
    /// registry. Problems have paths relative to the entry.
    fn entry(&self, entry: Value, path: &str) -> std::result::Result<IspConfig, ValidationErrors> {
        let mut problems = ValidationErrors::new();
        let Value::Object(mut entry) = entry else {
            problems.push("", "each entry is a table ([[isp]] in TOML)");
            return Err(problems);
        };
        let host = match entry.remove("host") {
            None => Map::new(),
            Some(Value::Object(host)) => host,
            Some(_) => {
                problems.push("host", "`host` must be a table of your own settings");
                Map::new()
            }
        };
        let mut refs = Vec::new();
        if let Some(Value::Object(credentials)) = entry.get_mut("credentials") {
            for (key, value) in credentials.iter_mut() {
                self.resolve(
                    value,
                    format!("credentials.{key}"),
                    &mut refs,
                    &mut problems,
                );
            }
        }
        if let Some(Value::Object(callback)) = entry.get_mut("callback") {
            for key in ["signing_secret", "previous_secret"] {
                if let Some(value) = callback.get_mut(key) {
                    self.resolve(value, format!("callback.{key}"), &mut refs, &mut problems);
                }
            }
        }
        let repr: ConfigRepr = match serde_json::from_value(Value::Object(entry)) {
            Ok(repr) => repr,
            Err(e) => {
                problems.push(
                    "",
                    format!(
                        "the entry could not be read: {}",
                        describe_parse_error(&e.to_string())
                    ),
                );
                return Err(problems);
            }
        };
        let mut builder = IspConfigBuilder::from(repr).host_settings(host);
        for (field, reference) in refs {
            builder = builder.secret_reference(field, reference);
        }
        let built = builder.build_in(&self.registry);
        match built {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(problems),
            Err(Error::InvalidConfig {
                problems: found, ..
            }) => {
                // A field whose reference could not be resolved is reported once, for that.
                let unresolved: Vec<String> = problems
                    .problems()
                    .iter()
                    .map(|p| p.field.clone())
                    .collect();
                for p in found {
                    if !unresolved.contains(&p.field) {
                        problems.push(p.field, p.message);
                    }
                }
                Err(problems)
            }
            Err(other) => {
                problems.push("", format!("{path}: {other}"));
                Err(problems)
            }
        }
    }

    /// Replaces a `{ secret = "scheme:name" }` value by the secret it names, recording the
    /// reference; a plain string is left as it is.
    fn resolve(
        &self,
        value: &mut Value,
        field: String,
        refs: &mut Vec<(String, String)>,
        problems: &mut ValidationErrors,
    ) {
        let Value::Object(table) = value else {
            return;
        };
        let reference = match (table.len(), table.get(SECRET)) {
            (1, Some(Value::String(reference))) => reference.trim().to_owned(),
            _ => {
                problems.push(
                    field,
                    "give the value as text, or as a reference: { secret = \"env:VARIABLE\" }",
                );
                *value = Value::String(String::new());
                return;
            }
        };
        let resolved = match reference.split_once(':') {
            Some((scheme, name)) => match self.lookups.get(&scheme.trim().to_ascii_lowercase()) {
                Some(lookup) => lookup(name.trim()).map_err(|why| {
                    format!(
                        "the secret reference `{}` could not be resolved: {}",
                        reference.escape_debug(),
                        capped(&why)
                    )
                }),
                None => Err(format!(
                    "no lookup for secret references of scheme `{}`; the schemes are: {} (a host adds its own with CatalogLoader::secrets)",
                    scheme.escape_debug(),
                    self.lookups.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            },
            None => {
                Err("a secret reference is `<scheme>:<name>`, e.g. `env:ADC_PASSWORD`".to_owned())
            }
        };
        match resolved {
            Ok(secret) => {
                *value = Value::String(secret);
                refs.push((field, reference));
            }
            Err(why) => {
                problems.push(field, why);
                // Keep the key present so that the entry is not also reported as missing it.
                *value = Value::String("unresolved".to_owned());
            }
        }
    }

    /// Writes `catalog` as TOML without any secret value: each secret is written as the
    /// reference it was loaded from. A secret that has none (set directly with
    /// [`IspConfigBuilder::credential`]) cannot be saved this way and is reported, with its
    /// path; give it with [`IspConfigBuilder::credential_from`] instead.
    pub fn write_toml(&self, catalog: &IspCatalog) -> Result<String> {
        let document = self.to_value(catalog)?;
        toml::to_string(&document).map_err(|e| {
            let mut problems = ValidationErrors::new();
            problems.push(
                "",
                format!(
                    "the catalog could not be written as TOML: {}",
                    describe_parse_error(&e.to_string())
                ),
            );
            invalid(problems)
        })
    }

    /// Writes `catalog` as JSON; see [`write_toml`](Self::write_toml).
    pub fn write_json(&self, catalog: &IspCatalog) -> Result<String> {
        let document = self.to_value(catalog)?;
        Ok(serde_json::to_string_pretty(&document).unwrap_or_default())
    }

    fn to_value(&self, catalog: &IspCatalog) -> Result<Value> {
        let mut problems = ValidationErrors::new();
        let mut entries = Vec::new();
        for (at, config) in catalog.iter().enumerate() {
            let path = format!("{ENTRIES}[{at}]");
            let fields = self
                .registry
                .spec(config.provider())
                .map(|s| s.credential_fields);
            // Written with secrets, then every secret replaced by its reference.
            let mut repr = match serde_json::to_value(config.repr(true)) {
                Ok(Value::Object(repr)) => repr,
                _ => {
                    problems.push(path, "the entry could not be written");
                    continue;
                }
            };
            if let Some(Value::Object(credentials)) = repr.get_mut("credentials") {
                for (key, value) in credentials.iter_mut() {
                    // Without the provider's schema every value is treated as secret.
                    let secret = fields
                        .is_none_or(|f| f.iter().find(|f| f.key == key).is_none_or(|f| f.secret));
                    let field = format!("credentials.{key}");
                    match config.secret_ref(&field) {
                        Some(reference) => *value = reference_value(reference),
                        None if secret => {
                            problems.push(format!("{path}.{field}"), UNSAVED);
                            *value = Value::Null;
                        }
                        None => {}
                    }
                }
            }
            if let Some(Value::Object(callback)) = repr.get_mut("callback") {
                for key in ["signing_secret", "previous_secret"] {
                    let field = format!("callback.{key}");
                    if let Some(value) = callback.get_mut(key) {
                        match config.secret_ref(&field) {
                            Some(reference) => *value = reference_value(reference),
                            None => problems.push(format!("{path}.{field}"), UNSAVED),
                        }
                    }
                }
            }
            entries.push(Value::Object(repr));
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let mut top = Map::new();
        top.insert(ENTRIES.to_owned(), Value::Array(entries));
        Ok(Value::Object(top))
    }
}

const UNSAVED: &str = "this secret was given directly, not as a reference, so it cannot be saved without its value; give it as a reference ({ secret = \"env:VARIABLE\" }, IspConfigBuilder::credential_from) or store the configuration with IspConfig::to_toml_with_secrets";

fn reference_value(reference: &str) -> Value {
    let mut table = Map::new();
    table.insert(SECRET.to_owned(), Value::String(reference.to_owned()));
    Value::Object(table)
}

fn invalid(problems: ValidationErrors) -> Error {
    Error::InvalidConfig {
        provider: "catalog".into(),
        problems,
    }
}

/// A lookup's explanation, cut to a sentence's length.
fn capped(why: &str) -> String {
    const MAX: usize = 200;
    if why.chars().count() <= MAX {
        why.to_owned()
    } else {
        let mut out: String = why.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// A document key as a field path: as it is when it is plain, else escaped and cut.
fn shown_key(key: &str) -> String {
    let shown: String = key.chars().take(64).flat_map(char::escape_debug).collect();
    if key.chars().count() > 64 {
        format!("{shown}…")
    } else {
        shown
    }
}

impl IspCatalog {
    /// Reads a catalog from TOML with the built-in providers and `env:` secret references; see
    /// [`CatalogLoader`] for the format and for contributed providers and other secret stores.
    pub fn from_toml(text: &str) -> Result<IspCatalog> {
        CatalogLoader::new().read_toml(text)
    }

    /// Reads a catalog from JSON; see [`from_toml`](Self::from_toml).
    pub fn from_json(text: &str) -> Result<IspCatalog> {
        CatalogLoader::new().read_json(text)
    }

    /// Writes the catalog as TOML without any secret value; see [`CatalogLoader::write_toml`].
    pub fn to_toml(&self) -> Result<String> {
        CatalogLoader::new().write_toml(self)
    }

    /// Writes the catalog as JSON without any secret value; see [`CatalogLoader::write_toml`].
    pub fn to_json(&self) -> Result<String> {
        CatalogLoader::new().write_json(self)
    }
}
