//! Answers remembered per (AccessKey id, ClientToken), so a retried delete never acts twice.

use std::collections::{HashMap, VecDeque};

use crate::reply::Answer;

/// The parameters an answer was given for; a token replayed with others is a mismatch.
pub(crate) type Fingerprint = Vec<(String, String)>;

/// What a token lookup found.
pub(crate) enum Lookup {
    /// Seen with the same parameters: answer the same again.
    Replay(Answer),
    /// Seen with other parameters.
    Mismatch,
    /// Not seen.
    New,
}

/// A bounded map of tokens to answers; past its capacity the oldest token is forgotten.
#[derive(Debug)]
pub(crate) struct TokenStore {
    answers: HashMap<(String, String), (Fingerprint, Answer)>,
    order: VecDeque<(String, String)>,
    capacity: usize,
}

impl TokenStore {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            answers: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn lookup(&self, access_key_id: &str, token: &str, params: &Fingerprint) -> Lookup {
        match self
            .answers
            .get(&(access_key_id.to_owned(), token.to_owned()))
        {
            Some((seen, answer)) if seen == params => Lookup::Replay(answer.clone()),
            Some(_) => Lookup::Mismatch,
            None => Lookup::New,
        }
    }

    pub(crate) fn record(
        &mut self,
        access_key_id: &str,
        token: &str,
        params: Fingerprint,
        answer: Answer,
    ) {
        let key = (access_key_id.to_owned(), token.to_owned());
        if self.answers.insert(key.clone(), (params, answer)).is_none() {
            self.order.push_back(key);
        }
        while self.answers.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.answers.remove(&old);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Ctx;

    fn fp(image: &str) -> Fingerprint {
        vec![("ImageId".into(), image.into())]
    }

    #[test]
    fn replay_mismatch_and_bound() {
        let ctx = Ctx::new(&http::HeaderMap::new(), None);
        let mut s = TokenStore::new(2);
        s.record("ak", "t1", fp("m-1"), Answer::success(&ctx));
        assert!(matches!(
            s.lookup("ak", "t1", &fp("m-1")),
            Lookup::Replay(_)
        ));
        assert!(matches!(s.lookup("ak", "t1", &fp("m-2")), Lookup::Mismatch));
        assert!(matches!(s.lookup("other", "t1", &fp("m-1")), Lookup::New));
        s.record("ak", "t2", fp("m-1"), Answer::success(&ctx));
        s.record("ak", "t3", fp("m-1"), Answer::success(&ctx));
        assert!(matches!(s.lookup("ak", "t1", &fp("m-1")), Lookup::New));
        assert!(matches!(
            s.lookup("ak", "t3", &fp("m-1")),
            Lookup::Replay(_)
        ));
    }
}
