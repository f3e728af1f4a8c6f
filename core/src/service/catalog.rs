//! The Services and endpoints as last seen by their watches, with kube-runtime's relist semantics:
//! after `Init`, objects are collected until `InitDone` and then replace the whole store (what the
//! relist did not mention was deleted meanwhile); until then the previous store stays in use.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::{EndpointsView, ServiceKey, ServiceView};
use crate::io::WatchEvent;

/// A watched object, filed under a Service's key.
pub trait Keyed: Clone + PartialEq {
    /// The Service it belongs to.
    fn key(&self) -> &ServiceKey;
}

impl Keyed for ServiceView {
    fn key(&self) -> &ServiceKey {
        &self.key
    }
}

impl Keyed for EndpointsView {
    fn key(&self) -> &ServiceKey {
        &self.key
    }
}

impl<T: Keyed> Keyed for Arc<T> {
    fn key(&self) -> &ServiceKey {
        T::key(self)
    }
}

/// Shares a Service watch event's object (the plan keeps the same object, not a copy).
pub fn shared(event: WatchEvent<ServiceView>) -> WatchEvent<Arc<ServiceView>> {
    match event {
        WatchEvent::Init => WatchEvent::Init,
        WatchEvent::InitApply(v) => WatchEvent::InitApply(Arc::new(v)),
        WatchEvent::InitDone => WatchEvent::InitDone,
        WatchEvent::Apply(v) => WatchEvent::Apply(Arc::new(v)),
        WatchEvent::Delete(v) => WatchEvent::Delete(Arc::new(v)),
    }
}

/// One watch's current objects.
#[derive(Debug, Clone)]
pub struct Store<T> {
    items: BTreeMap<ServiceKey, T>,
    relist: Option<BTreeMap<ServiceKey, T>>,
    synced: bool,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            items: BTreeMap::new(),
            relist: None,
            synced: false,
        }
    }
}

impl<T: Keyed> Store<T> {
    /// Applies one watch event; `true` if the store's content changed.
    pub fn handle(&mut self, event: WatchEvent<T>) -> bool {
        match event {
            WatchEvent::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            WatchEvent::InitApply(item) => {
                let relist = self.relist.get_or_insert_with(BTreeMap::new);
                relist.insert(item.key().clone(), item);
                false
            }
            WatchEvent::InitDone => {
                let fresh = self.relist.take().unwrap_or_default();
                let changed = fresh != self.items || !self.synced;
                self.items = fresh;
                self.synced = true;
                changed
            }
            WatchEvent::Apply(item) => {
                let key = item.key().clone();
                if let Some(relist) = &mut self.relist {
                    relist.insert(key.clone(), item.clone());
                }
                self.items.insert(key, item.clone()) != Some(item)
            }
            WatchEvent::Delete(item) => {
                if let Some(relist) = &mut self.relist {
                    relist.remove(item.key());
                }
                self.items.remove(item.key()).is_some()
            }
        }
    }

    /// Whether a first (re)list has completed.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The object filed under `key`.
    pub fn get(&self, key: &ServiceKey) -> Option<&T> {
        self.items.get(key)
    }

    /// Every object, by key.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.values()
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
