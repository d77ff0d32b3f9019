//! A short-lived in-process cache of rows the request path reads thousands of times a second
//! (clients, users), keyed by id.
//!
//! Invalidation is by generation: every write to the table made in this process bumps a counter
//! in the entity crate, which empties the cache at the next lookup. Writes this process does not
//! see (the CLI, another node) are seen within the cache's time to live. Absent rows are not
//! cached, so a new row is found at once. A value read while a write happened is not kept.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// At most this many entries; past it, expired entries are dropped, then the whole map if needed.
const MAX_ENTRIES: usize = 10_000;

pub struct ReadCache<V> {
    ttl: Duration,
    /// The table's write generation in this process.
    generation: fn() -> u64,
    inner: Mutex<State<V>>,
}

struct State<V> {
    generation: u64,
    entries: HashMap<String, (Instant, Arc<V>)>,
}

impl<V> ReadCache<V> {
    pub fn new(ttl: Duration, generation: fn() -> u64) -> Self {
        ReadCache { ttl, generation, inner: Mutex::new(State { generation: generation(), entries: HashMap::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State<V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `key`: from the cache when fresh and no write happened since it was read,
    /// else from `load`, whose result is then cached.
    pub async fn get<E, F>(&self, key: &str, load: F) -> Result<Option<Arc<V>>, E>
    where
        F: Future<Output = Result<Option<V>, E>>,
    {
        let generation = (self.generation)();
        {
            let mut st = self.lock();
            if st.generation != generation {
                st.entries.clear();
                st.generation = generation;
            }
            if let Some((at, v)) = st.entries.get(key)
                && at.elapsed() < self.ttl
            {
                return Ok(Some(Arc::clone(v)));
            }
        }
        let found = load.await?.map(Arc::new);
        if let Some(v) = &found {
            let mut st = self.lock();
            // A write during the read may have produced what we hold: keep it only if none happened.
            if st.generation == generation && (self.generation)() == generation {
                if st.entries.len() >= MAX_ENTRIES {
                    let ttl = self.ttl;
                    st.entries.retain(|_, (at, _)| at.elapsed() < ttl);
                    if st.entries.len() >= MAX_ENTRIES {
                        st.entries.clear();
                    }
                }
                st.entries.insert(key.to_string(), (Instant::now(), Arc::clone(v)));
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static GEN: AtomicU64 = AtomicU64::new(0);
    fn generation() -> u64 {
        GEN.load(Ordering::Acquire)
    }

    async fn load(v: &str) -> Result<Option<String>, ()> {
        Ok(Some(v.to_string()))
    }

    #[actix_rt::test]
    async fn hits_until_a_write_or_the_ttl() {
        let cache = ReadCache::new(Duration::from_millis(200), generation);
        assert_eq!(cache.get("k", load("a")).await.unwrap().as_deref().map(String::as_str), Some("a"));
        // Fresh: the loader is not consulted.
        assert_eq!(cache.get("k", load("b")).await.unwrap().as_deref().map(String::as_str), Some("a"));
        // A write in this process empties the cache.
        GEN.fetch_add(1, Ordering::AcqRel);
        assert_eq!(cache.get("k", load("c")).await.unwrap().as_deref().map(String::as_str), Some("c"));
        // Absent rows are not cached.
        assert_eq!(cache.get("none", async { Ok::<_, ()>(None) }).await.unwrap(), None);
        assert_eq!(cache.get("none", load("d")).await.unwrap().as_deref().map(String::as_str), Some("d"));
        // Past the time to live, read again.
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get("k", load("e")).await.unwrap().as_deref().map(String::as_str), Some("e"));
        // A write during the read: the value is returned but not kept.
        GEN.fetch_add(1, Ordering::AcqRel);
        let during = async {
            GEN.fetch_add(1, Ordering::AcqRel);
            Ok::<_, ()>(Some("f".to_string()))
        };
        assert_eq!(cache.get("k", during).await.unwrap().as_deref().map(String::as_str), Some("f"));
        assert_eq!(cache.get("k", load("g")).await.unwrap().as_deref().map(String::as_str), Some("g"));
    }
}
