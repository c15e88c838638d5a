//! A map that keeps at most a fixed number of entries, the oldest leaving first: the memory behind the service's
//! in-memory views (delivered jobs, checked pictures), each of which can always fall back to the slower path.
//!
//! No caching crate is in the tree and none is needed: a miss costs only the work the entry saved, so
//! first-in-first-out over a `HashMap` and a queue of keys does the job.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `capacity` entries; inserting beyond it drops the oldest.
#[derive(Debug)]
pub(crate) struct FifoMap<K, V> {
    capacity: usize,
    entries: HashMap<K, V>,
    /// Keys in the order they were added; a key may be here after its entry left the map (then it is skipped).
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Copy, V> FifoMap<K, V> {
    /// An empty map for at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> FifoMap<K, V> {
        FifoMap { capacity, entries: HashMap::new(), order: VecDeque::new() }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keeps `value` under `key` (replacing an earlier value, which keeps its place in the order), dropping the
    /// oldest entries beyond the capacity.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key, value).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.entries.remove(&oldest);
        }
        // Keys removed out of order are dropped as they reach the front; keep the queue from outgrowing the map.
        if self.order.len() > 2 * self.capacity {
            let FifoMap { entries, order, .. } = self;
            order.retain(|key| entries.contains_key(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_leave_first_and_removed_keys_do_not_pile_up() {
        let mut map = FifoMap::new(3);
        for n in 0..5u32 {
            map.insert(n, n * 10);
            map.insert(n, n * 100);
        }
        assert_eq!(
            (0..5).map(|n| map.get(&n).copied()).collect::<Vec<_>>(),
            [None, None, Some(200), Some(300), Some(400)]
        );
        for n in 5..100u32 {
            map.insert(n, n);
            map.remove(&n);
        }
        assert!(map.order.len() <= 6, "{} keys queued", map.order.len());
        assert_eq!(map.get(&4), Some(&400), "removing others keeps an entry");
    }
}
