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
    /// Each value with the number of the insertion that added it.
    entries: HashMap<K, (u64, V)>,
    /// Keys with their insertion's number, oldest first. A key whose entry was removed, or removed and added again
    /// (under a newer number), is stale here and skipped.
    order: VecDeque<(K, u64)>,
    /// The next insertion's number.
    next: u64,
}

impl<K: Hash + Eq + Copy, V> FifoMap<K, V> {
    /// An empty map for at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> FifoMap<K, V> {
        FifoMap { capacity, entries: HashMap::new(), order: VecDeque::new(), next: 0 }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(_, value)| value)
    }

    pub(crate) fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keeps `value` under `key` (replacing an earlier value, which keeps its place in the order), dropping the
    /// oldest entries beyond the capacity.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        match self.entries.get_mut(&key) {
            Some((_, kept)) => *kept = value,
            None => {
                self.entries.insert(key, (self.next, value));
                self.order.push_back((key, self.next));
                self.next += 1;
            }
        }
        while self.entries.len() > self.capacity {
            let Some((oldest, number)) = self.order.pop_front() else { break };
            if self.entries.get(&oldest).is_some_and(|(kept, _)| *kept == number) {
                self.entries.remove(&oldest);
            }
        }
        // Stale keys are dropped as they reach the front; keep the queue from outgrowing the map.
        if self.order.len() > 2 * self.capacity {
            let FifoMap { entries, order, .. } = self;
            order.retain(|(key, number)| entries.get(key).is_some_and(|(kept, _)| kept == number));
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

    #[test]
    fn a_key_removed_and_added_again_counts_from_its_new_place() {
        let mut map = FifoMap::new(2);
        map.insert('a', 1);
        map.insert('b', 2);
        map.remove(&'a');
        map.insert('a', 3);
        // The queue still holds the first 'a' ahead of 'b': it must not take the new 'a' with it.
        map.insert('c', 4);
        assert_eq!([map.get(&'a'), map.get(&'b'), map.get(&'c')], [Some(&3), None, Some(&4)]);
        for n in 0..50 {
            map.remove(&'a');
            map.insert('a', n);
        }
        assert!(map.order.len() <= 4, "{} keys queued", map.order.len());
    }
}
