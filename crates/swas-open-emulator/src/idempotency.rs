//! Answers remembered per (account, ClientToken), so a retried delete never acts twice, even
//! when the retry is signed with credentials refreshed in between (a new AccessKey id of the
//! same account).

use std::collections::{HashMap, VecDeque};

use crate::reply::Answer;

/// The parameters an answer was given for, as a digest: a token replayed with others is a
/// mismatch. A digest costs 32 bytes whatever the request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The digest of `params`, in any order (length-prefixed, so no two lists collide).
    pub(crate) fn of(params: &[(String, String)]) -> Self {
        let mut sorted: Vec<&(String, String)> = params.iter().collect();
        sorted.sort_unstable();
        let parts = sorted
            .into_iter()
            .flat_map(|(name, value)| [name.as_str(), value.as_str()]);
        Self(crate::digest(parts))
    }
}

/// What a token lookup found.
pub(crate) enum Lookup {
    /// Seen with the same parameters: answer the same again.
    Replay(Answer),
    /// Seen with other parameters.
    Mismatch,
    /// Not seen.
    New,
}

/// (account, ClientToken); `None`: the unnamed default account.
type Scope = (Option<String>, String);

/// A bounded map of tokens to answers: past its capacity in entries or in bytes, the oldest
/// token is forgotten.
#[derive(Debug)]
pub(crate) struct TokenStore {
    answers: HashMap<Scope, (Fingerprint, Answer)>,
    order: VecDeque<Scope>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

/// What one entry costs, roughly: its strings, the answer's body and fixed overhead.
fn cost(scope: &Scope, answer: &Answer) -> usize {
    const OVERHEAD: usize = 256;
    let account = scope.0.as_ref().map_or(0, String::len);
    // Twice the scope: the map's key and the order queue's copy.
    OVERHEAD + 2 * (account + scope.1.len()) + answer.body.len()
}

impl TokenStore {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            answers: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    pub(crate) fn lookup(&self, account: Option<&str>, token: &str, params: Fingerprint) -> Lookup {
        let scope = (account.map(str::to_owned), token.to_owned());
        match self.answers.get(&scope) {
            Some((seen, answer)) if *seen == params => Lookup::Replay(answer.clone()),
            Some(_) => Lookup::Mismatch,
            None => Lookup::New,
        }
    }

    pub(crate) fn record(
        &mut self,
        account: Option<&str>,
        token: &str,
        params: Fingerprint,
        answer: Answer,
    ) {
        let scope = (account.map(str::to_owned), token.to_owned());
        self.bytes = self.bytes.saturating_add(cost(&scope, &answer));
        match self.answers.insert(scope.clone(), (params, answer)) {
            Some((_, old)) => self.bytes = self.bytes.saturating_sub(cost(&scope, &old)),
            None => self.order.push_back(scope),
        }
        while self.answers.len() > self.capacity || self.bytes > self.max_bytes {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, answer)) = self.answers.remove(&old) {
                self.bytes = self.bytes.saturating_sub(cost(&old, &answer));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Ctx;

    fn fp(image: &str) -> Fingerprint {
        Fingerprint::of(&[("ImageId".into(), image.into())])
    }

    #[test]
    fn replay_mismatch_and_bound() {
        let ctx = Ctx::new(&http::HeaderMap::new(), None);
        let mut s = TokenStore::new(2, usize::MAX);
        s.record(Some("1"), "t1", fp("m-1"), Answer::success(&ctx));
        assert!(matches!(
            s.lookup(Some("1"), "t1", fp("m-1")),
            Lookup::Replay(_)
        ));
        assert!(matches!(
            s.lookup(Some("1"), "t1", fp("m-2")),
            Lookup::Mismatch
        ));
        assert!(matches!(s.lookup(Some("2"), "t1", fp("m-1")), Lookup::New));
        assert!(matches!(s.lookup(None, "t1", fp("m-1")), Lookup::New));
        s.record(Some("1"), "t2", fp("m-1"), Answer::success(&ctx));
        s.record(Some("1"), "t3", fp("m-1"), Answer::success(&ctx));
        assert!(matches!(s.lookup(Some("1"), "t1", fp("m-1")), Lookup::New));
        assert!(matches!(
            s.lookup(Some("1"), "t3", fp("m-1")),
            Lookup::Replay(_)
        ));
    }

    #[test]
    fn fingerprints_ignore_order_and_never_collide_by_concatenation() {
        let p = |pairs: &[(&str, &str)]| {
            Fingerprint::of(
                &pairs
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(p(&[("a", "1"), ("b", "2")]), p(&[("b", "2"), ("a", "1")]));
        assert_ne!(p(&[("ab", "c")]), p(&[("a", "bc")]));
        assert_ne!(p(&[("a", "1")]), p(&[("a", "1"), ("a", "1")]));
    }

    #[test]
    fn bounded_in_bytes_as_well_as_entries() {
        let ctx = Ctx::new(&http::HeaderMap::new(), None);
        let answer = Answer::success(&ctx);
        let one = cost(&(Some("1".into()), "t-0".into()), &answer);
        let mut s = TokenStore::new(1_000, one * 3);
        for i in 0..10 {
            s.record(Some("1"), &format!("t-{i}"), fp("m"), answer.clone());
        }
        assert_eq!(s.answers.len(), 3);
        assert!(s.bytes <= one * 3);
        assert!(matches!(s.lookup(Some("1"), "t-0", fp("m")), Lookup::New));
        assert!(matches!(
            s.lookup(Some("1"), "t-9", fp("m")),
            Lookup::Replay(_)
        ));
        // Recording a token again replaces its entry and its cost.
        s.record(Some("1"), "t-9", fp("m"), answer.clone());
        assert_eq!(s.answers.len(), 3);
        assert_eq!(s.bytes, one * 3);
    }
}
