//! The catalog of ISP configurations.

use crate::config::IspConfig;
use crate::error::{Error, Result};

/// The dealer's ISP configurations, unique by name.
///
/// Names compare after trimming, without regard to case, to Unicode normal form (NFC and NFD
/// spellings are one name) and to invisible characters (zero-width spaces and joiners, the byte
/// order mark, the soft hyphen, control characters): "Alarm.com", " alarm.COM " and
/// "Alarm\u{200B}.com" are the same entry. A change that would break uniqueness is refused and
/// leaves the catalog as it was.
#[derive(Debug, Clone, Default)]
pub struct IspCatalog {
    entries: Vec<IspConfig>,
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
        self.entries.iter().position(|c| key(c.name()) == k)
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
        self.entries.push(config);
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
        Ok(std::mem::replace(&mut self.entries[at], config))
    }

    /// Removes and returns the entry named `name`.
    pub fn remove(&mut self, name: &str) -> Option<IspConfig> {
        self.position(name).map(|at| self.entries.remove(at))
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&IspConfig> {
        self.position(name).map(|at| &self.entries[at])
    }

    /// The entries, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &IspConfig> {
        self.entries.iter()
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
