//! Keeping creates to one per dealer customer id: the [`CreateCoordinator`] that serializes
//! them and remembers unsettled ones, and the [`CreateOnce`] settings a provider is built with.
//! [`providers::common::create_once`](crate::providers::common::create_once) uses them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::Result;

/// Serializes creates and remembers unsettled ones, per key (provider, vendor account and
/// dealer customer id).
///
/// The default, [`InProcessCreates::global`], covers every provider of one process: two calls
/// for the same dealer customer id, on one provider or on two built from the same
/// configuration, run one after the other. A host that runs several replicas against one vendor
/// account passes a coordinator that spans them (a database lock or lease) to the provider's
/// builder; what "never a duplicate" covers then widens to every process that shares it.
#[async_trait]
pub trait CreateCoordinator: fmt::Debug + Send + Sync + 'static {
    /// Waits until this caller alone may create for `key`; the right holds until the guard is
    /// dropped.
    async fn acquire(&self, key: &str) -> Result<CreateGuard>;

    /// Until when a create for `key` may still be committing at the vendor (an earlier create
    /// whose outcome is unknown), if at all.
    async fn unsettled_until(&self, key: &str) -> Result<Option<SystemTime>>;

    /// Records (`Some`) or clears (`None`) an unsettled create for `key`.
    async fn set_unsettled(&self, key: &str, until: Option<SystemTime>) -> Result<()>;
}

/// Held while a create runs; dropping it lets the next caller for the same key go on.
pub struct CreateGuard(#[allow(dead_code)] Box<dyn Send + Sync>);

impl CreateGuard {
    /// A guard that keeps `inner` (a lock guard, a lease) until it is dropped.
    pub fn new(inner: impl Send + Sync + 'static) -> Self {
        Self(Box::new(inner))
    }
}

impl fmt::Debug for CreateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CreateGuard")
    }
}

#[derive(Debug, Default)]
struct Slot {
    lock: Weak<tokio::sync::Mutex<()>>,
    unsettled: Option<SystemTime>,
}

/// The in-process [`CreateCoordinator`]: a lock per key, and unsettled creates in memory.
#[derive(Debug, Default)]
pub struct InProcessCreates {
    slots: std::sync::Mutex<HashMap<String, Slot>>,
}

impl InProcessCreates {
    /// The one coordinator every provider of this process shares unless told otherwise.
    pub fn global() -> Arc<InProcessCreates> {
        static GLOBAL: OnceLock<Arc<InProcessCreates>> = OnceLock::new();
        GLOBAL.get_or_init(Arc::default).clone()
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl CreateCoordinator for InProcessCreates {
    async fn acquire(&self, key: &str) -> Result<CreateGuard> {
        let lock = {
            let mut slots = self.slots();
            let now = SystemTime::now();
            // Forget keys nobody holds and nothing is pending for.
            slots.retain(|_, s| s.lock.strong_count() > 0 || s.unsettled.is_some_and(|u| u > now));
            let slot = slots.entry(key.to_owned()).or_default();
            match slot.lock.upgrade() {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    slot.lock = Arc::downgrade(&lock);
                    lock
                }
            }
        };
        Ok(CreateGuard::new(lock.lock_owned().await))
    }

    async fn unsettled_until(&self, key: &str) -> Result<Option<SystemTime>> {
        Ok(self.slots().get(key).and_then(|s| s.unsettled))
    }

    async fn set_unsettled(&self, key: &str, until: Option<SystemTime>) -> Result<()> {
        let mut slots = self.slots();
        match until {
            Some(t) => slots.entry(key.to_owned()).or_default().unsettled = Some(t),
            None => {
                if let Some(slot) = slots.get_mut(key) {
                    slot.unsettled = None;
                }
            }
        }
        Ok(())
    }
}

/// Default [commit horizon](CreateOnce::commit_horizon): how long after a create whose outcome
/// is unknown the crate assumes the vendor may still commit it.
pub const DEFAULT_COMMIT_HORIZON: Duration = Duration::from_secs(300);

/// The settings of [`create_once`](crate::providers::common::create_once) for one provider.
#[derive(Debug, Clone)]
pub struct CreateOnce {
    /// Who serializes creates and keeps unsettled ones.
    pub coordinator: Arc<dyn CreateCoordinator>,
    /// How long after a create whose outcome is unknown no new create is made for the same
    /// dealer customer id (lookups still run: a customer that appears is found).
    pub commit_horizon: Duration,
}

impl Default for CreateOnce {
    fn default() -> Self {
        Self {
            coordinator: InProcessCreates::global(),
            commit_horizon: DEFAULT_COMMIT_HORIZON,
        }
    }
}
