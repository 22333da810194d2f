//! The catalog of ISP configurations.

use std::sync::Arc;

use crate::config::IspConfig;
use crate::error::{Error, Result};
use crate::provider::configured::SharedConfig;
use crate::provider::{
    ConfiguredProvider, InteractiveServicesProvider, ProviderOptions, ProviderRegistry,
};

/// The dealer's ISP configurations, unique by name.
///
/// Names compare after trimming, without regard to case, to Unicode normal form (NFC and NFD
/// spellings are one name) and to invisible characters (zero-width spaces and joiners, the byte
/// order mark, the soft hyphen, control characters): "Alarm.com", " alarm.COM " and
/// "Alarm\u{200B}.com" are the same entry. A change that would break uniqueness is refused and
/// leaves the catalog as it was.
///
/// [`provider`](Self::provider) hands out providers that follow their entry: after
/// [`replace`](Self::replace) turns an entry Inactive, a provider handed out before refuses its
/// next change before any request is made.
#[derive(Debug, Default)]
pub struct IspCatalog {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    config: IspConfig,
    /// What providers handed out for this entry read on every call.
    shared: Arc<SharedConfig>,
}

impl Entry {
    fn new(config: IspConfig) -> Self {
        Self {
            shared: SharedConfig::new(config.clone()),
            config,
        }
    }
}

impl Clone for IspCatalog {
    /// A copy with the same entries. Providers handed out by the original follow the original's
    /// entries, not the copy's.
    fn clone(&self) -> Self {
        Self {
            entries: self
                .entries
                .iter()
                .map(|e| Entry::new(e.config.clone()))
                .collect(),
        }
    }
}

impl PartialEq for IspCatalog {
    /// The same entries in the same order, secrets, secret references and host settings
    /// included.
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.config == b.config)
    }
}

fn key(name: &str) -> String {
    crate::config::name_key(name)
}

impl IspCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        let k = key(name);
        self.entries.iter().position(|e| key(e.config.name()) == k)
    }

    fn duplicate(config: &IspConfig, operation: &'static str) -> Error {
        Error::conflict(
            config.provider().to_string(),
            operation,
            format!(
                "an ISP configuration named `{}` already exists (names are compared without case and invisible characters); choose another name",
                config.shown(config.name())
            ),
        )
    }

    /// Adds a configuration; a name already in the catalog is an [`Error::Conflict`].
    pub fn add(&mut self, config: IspConfig) -> Result<()> {
        if self.position(config.name()).is_some() {
            return Err(Self::duplicate(&config, "catalog.add"));
        }
        self.entries.push(Entry::new(config));
        Ok(())
    }

    /// Replaces the entry named `name` with `config`, which may carry a new name. Returns the
    /// entry it replaced. Renaming onto another entry's name is an [`Error::Conflict`]; an
    /// unknown `name` is [`Error::NotFound`]. On error nothing changes.
    pub fn replace(&mut self, name: &str, config: IspConfig) -> Result<IspConfig> {
        let Some(at) = self.position(name) else {
            return Err(Error::not_found(
                config.provider().to_string(),
                "catalog.replace",
                format!(
                    "ISP configuration `{}`",
                    config
                        .shown(&crate::config::clean_name(name))
                        .escape_debug()
                ),
            ));
        };
        if let Some(other) = self.position(config.name()) {
            if other != at {
                return Err(Self::duplicate(&config, "catalog.replace"));
            }
        }
        let Some(entry) = self.entries.get_mut(at) else {
            return Err(Error::not_found(
                config.provider().to_string(),
                "catalog.replace",
                "ISP configuration",
            ));
        };
        entry.shared.set(Some(config.clone()));
        Ok(std::mem::replace(&mut entry.config, config))
    }

    /// Removes and returns the entry named `name`. Providers handed out for it refuse every
    /// later call with [`Error::NotFound`].
    pub fn remove(&mut self, name: &str) -> Option<IspConfig> {
        let at = self.position(name)?;
        let entry = self.entries.remove(at);
        entry.shared.set(None);
        Some(entry.config)
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&IspConfig> {
        self.position(name)
            .and_then(|at| self.entries.get(at))
            .map(|e| &e.config)
    }

    /// The entries, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &IspConfig> {
        self.entries.iter().map(|e| &e.config)
    }

    /// A provider for the entry named `name`, built by `registry`, that follows the entry:
    /// each call reads the entry as it is then (see [`ConfiguredProvider`]). Turning the entry
    /// Inactive with [`replace`](Self::replace) stops the provider's changes at once, before
    /// any request; a new default plan applies to its next provision; new credentials or a new
    /// endpoint rebuild it; [`remove`](Self::remove) stops it altogether.
    ///
    /// An unknown `name` is [`Error::NotFound`]; a configuration the registry cannot build is
    /// the error [`ProviderRegistry::build`] gives.
    ///
    /// ```
    /// use interactive_services::{IspCatalog, IspConfig, ProviderRegistry, Status};
    ///
    /// let registry = ProviderRegistry::with_built_ins();
    /// let mut catalog = IspCatalog::new();
    /// let config = IspConfig::builder()
    ///     .name("Alarm.com")
    ///     .provider("alarm_com")
    ///     .credential("login", "integration-user")
    ///     .credential("password", "correct horse")
    ///     .build()?;
    /// catalog.add(config.clone())?;
    /// let provider = catalog.provider("Alarm.com", &registry)?;
    /// catalog.replace("Alarm.com", config.with_status(Status::Inactive))?;
    /// // From here on `provider` refuses provision, change_plan and terminate.
    /// # let _ = provider;
    /// # Ok::<(), interactive_services::Error>(())
    /// ```
    pub fn provider(
        &self,
        name: &str,
        registry: &ProviderRegistry,
    ) -> Result<Arc<dyn InteractiveServicesProvider>> {
        self.provider_with(name, registry, &ProviderOptions::default())
    }

    /// [`provider`](Self::provider) with the host's [`ProviderOptions`], used again whenever
    /// the entry's changes need the provider rebuilt.
    pub fn provider_with(
        &self,
        name: &str,
        registry: &ProviderRegistry,
        options: &ProviderOptions,
    ) -> Result<Arc<dyn InteractiveServicesProvider>> {
        let Some(entry) = self.position(name).and_then(|at| self.entries.get(at)) else {
            return Err(Error::not_found(
                "unknown",
                "catalog.provider",
                format!(
                    "ISP configuration `{}`",
                    crate::config::clean_name(name).escape_debug()
                ),
            ));
        };
        let registry = registry.clone();
        let options = options.clone();
        let provider = ConfiguredProvider::following(
            entry.shared.clone(),
            Arc::new(move |config: &IspConfig| registry.build_unwrapped(config, &options)),
        )?;
        Ok(Arc::new(provider))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
