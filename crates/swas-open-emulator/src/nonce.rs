//! The bounded cache of signature nonces seen within the timestamp window.

use std::collections::{BTreeSet, HashMap};

/// Nonces per AccessKey id, each kept until its request's timestamp leaves the window.
///
/// A request is accepted only while `|now - timestamp| <= window`, so a nonce can only be
/// replayed usefully until `timestamp + window`: keeping it exactly that long makes replays
/// impossible without keeping anything longer. Past [`NonceCache::new`]'s capacity, the
/// entries closest to expiry are dropped first.
#[derive(Debug)]
pub(crate) struct NonceCache {
    expiry: HashMap<String, u64>,
    by_expiry: BTreeSet<(u64, String)>,
    capacity: usize,
}

impl NonceCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            expiry: HashMap::new(),
            by_expiry: BTreeSet::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `nonce` for `access_key_id` until `expires_at` (Unix seconds); returns `false`
    /// when it is already recorded (a replay).
    pub(crate) fn insert(
        &mut self,
        access_key_id: &str,
        nonce: &str,
        expires_at: u64,
        now: u64,
    ) -> bool {
        self.prune(now);
        // Length-prefixed, so no id/nonce pair can collide with another.
        let key = format!("{}:{access_key_id}{nonce}", access_key_id.len());
        if self.expiry.contains_key(&key) {
            return false;
        }
        while self.expiry.len() >= self.capacity {
            match self.by_expiry.pop_first() {
                Some((_, old)) => {
                    self.expiry.remove(&old);
                }
                None => break,
            }
        }
        self.expiry.insert(key.clone(), expires_at);
        self.by_expiry.insert((expires_at, key));
        true
    }

    fn prune(&mut self, now: u64) {
        while let Some((expires_at, _)) = self.by_expiry.first() {
            if *expires_at >= now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.expiry.remove(&key);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.expiry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_caught_until_expiry() {
        let mut c = NonceCache::new(10);
        assert!(c.insert("ak", "n1", 100, 50));
        assert!(!c.insert("ak", "n1", 100, 60));
        assert!(c.insert("other", "n1", 100, 60), "scoped per key");
        assert!(c.insert("ak", "n2", 200, 101), "n1 pruned");
        assert_eq!(c.len(), 1);
        assert!(c.insert("ak", "n1", 300, 101));
    }

    #[test]
    fn ids_and_nonces_do_not_collide() {
        let mut c = NonceCache::new(10);
        assert!(c.insert("a", "bc", 100, 0));
        assert!(c.insert("ab", "c", 100, 0));
    }

    #[test]
    fn bounded() {
        let mut c = NonceCache::new(3);
        for i in 0..10u64 {
            assert!(c.insert("ak", &i.to_string(), 1000 + i, 0));
        }
        assert_eq!(c.len(), 3);
        assert!(!c.insert("ak", "9", 2000, 0));
    }
}
