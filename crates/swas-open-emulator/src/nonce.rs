//! The bounded cache of signature nonces seen within the timestamp window.

use std::collections::{BTreeSet, HashMap};

/// A nonce as remembered: the SHA-256 of the AccessKey id and the nonce, 32 bytes whatever
/// their length.
type NonceDigest = [u8; 32];

/// What recording a nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// Not seen: recorded.
    Yes,
    /// Seen already, and its request's timestamp is still inside the window: a replay.
    Replay,
    /// Not seen, but the cache is full of nonces that could still be replayed: the request
    /// is refused rather than forget one of them.
    Full,
}

/// Nonces per AccessKey id, each kept until its request's timestamp leaves the window.
///
/// A request is accepted only while `|now - timestamp| <= window`, so a nonce can only be
/// replayed usefully until `timestamp + window`: keeping it exactly that long makes replays
/// impossible without keeping anything longer. A nonce is never forgotten before then: past
/// [`NonceCache::new`]'s capacity, new requests are refused ([`Fresh::Full`]) until older
/// nonces expire. Each entry costs the same few dozen bytes, so the capacity bounds memory.
#[derive(Debug)]
pub(crate) struct NonceCache {
    expiry: HashMap<NonceDigest, u64>,
    by_expiry: BTreeSet<(u64, NonceDigest)>,
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

    /// Records `nonce` for `access_key_id` until `expires_at` (Unix seconds).
    pub(crate) fn insert(
        &mut self,
        access_key_id: &str,
        nonce: &str,
        expires_at: u64,
        now: u64,
    ) -> Fresh {
        self.prune(now);
        let key = crate::digest([access_key_id, nonce]);
        if self.expiry.contains_key(&key) {
            return Fresh::Replay;
        }
        if self.expiry.len() >= self.capacity {
            return Fresh::Full;
        }
        self.expiry.insert(key, expires_at);
        self.by_expiry.insert((expires_at, key));
        Fresh::Yes
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
        assert_eq!(c.insert("ak", "n1", 100, 50), Fresh::Yes);
        assert_eq!(c.insert("ak", "n1", 100, 60), Fresh::Replay);
        assert_eq!(
            c.insert("other", "n1", 100, 60),
            Fresh::Yes,
            "scoped per key"
        );
        assert_eq!(c.insert("ak", "n2", 200, 101), Fresh::Yes, "n1 pruned");
        assert_eq!(c.len(), 1);
        assert_eq!(c.insert("ak", "n1", 300, 101), Fresh::Yes);
    }

    #[test]
    fn ids_and_nonces_do_not_collide() {
        let mut c = NonceCache::new(10);
        assert_eq!(c.insert("a", "bc", 100, 0), Fresh::Yes);
        assert_eq!(c.insert("ab", "c", 100, 0), Fresh::Yes);
    }

    /// Past the capacity, new nonces are refused and every nonce still inside the window
    /// stays caught; once the oldest expire, new ones are taken again.
    #[test]
    fn full_refuses_rather_than_forget_a_replayable_nonce() {
        let mut c = NonceCache::new(3);
        for i in 0..3u64 {
            assert_eq!(c.insert("ak", &i.to_string(), 1000 + i, 0), Fresh::Yes);
        }
        assert_eq!(c.insert("ak", "new", 2000, 0), Fresh::Full);
        for i in 0..3u64 {
            assert_eq!(c.insert("ak", &i.to_string(), 2000, 999), Fresh::Replay);
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.insert("ak", "new", 2000, 1001), Fresh::Yes, "0 expired");
        assert_eq!(c.insert("ak", "0", 2000, 1001), Fresh::Full);
    }

    #[test]
    fn a_huge_nonce_costs_a_digest() {
        let mut c = NonceCache::new(10);
        let huge = "n".repeat(60 * 1024);
        assert_eq!(c.insert("ak", &huge, 100, 0), Fresh::Yes);
        assert_eq!(c.insert("ak", &huge, 100, 0), Fresh::Replay);
        let mut other = huge.clone();
        other.push('x');
        assert_eq!(c.insert("ak", &other, 100, 0), Fresh::Yes);
        // Keys are fixed-size digests: nothing of the nonce itself is kept.
        assert!(c.expiry.keys().all(|k| k.len() == 32));
    }
}
