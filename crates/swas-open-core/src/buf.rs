//! Where the fast signers write: buffers on the stack for the query and for what is only
//! hashed (the V1 string to sign, the V3 canonical request), so an ordinary request
//! allocates for neither.

/// Something bytes are appended to.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);

    /// Lets `write` fill up to `max` bytes at the end in place; it returns how many it
    /// wrote. One bounds check for a whole run of small writes.
    fn write_with(&mut self, max: usize, write: impl FnOnce(&mut [u8]) -> usize);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn write_with(&mut self, max: usize, write: impl FnOnce(&mut [u8]) -> usize) {
        let start = self.len();
        self.resize(start + max, 0);
        let n = write(&mut self[start..]);
        self.truncate(start + n);
    }
}

impl<T: Sink> Sink for &mut T {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }

    #[inline]
    fn write_with(&mut self, max: usize, write: impl FnOnce(&mut [u8]) -> usize) {
        (**self).write_with(max, write);
    }
}

/// Bytes on the stack up to `N`, on the heap past that.
pub(crate) struct StackBuf<const N: usize> {
    stack: [u8; N],
    /// Bytes used in `stack`; `N` once spilled, so every later write takes the slow path.
    len: usize,
    /// Whether the bytes are in `heap` (from the first write that did not fit on).
    spilled: bool,
    heap: Vec<u8>,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) fn new() -> Self {
        Self {
            stack: [0; N],
            len: 0,
            spilled: false,
            heap: Vec::new(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.spilled {
            &self.heap
        } else {
            &self.stack[..self.len]
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Moves the bytes to the heap, with room for `more`.
    #[cold]
    fn spill(&mut self, more: usize) -> &mut Vec<u8> {
        if !self.spilled {
            self.heap.reserve(2 * N + more);
            self.heap.extend_from_slice(&self.stack[..self.len]);
            self.len = N;
            self.spilled = true;
        }
        &mut self.heap
    }

    #[cold]
    fn spill_with(&mut self, max: usize, write: impl FnOnce(&mut [u8]) -> usize) {
        self.spill(max).write_with(max, write);
    }
}

impl<const N: usize> Sink for StackBuf<N> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len.wrapping_add(bytes.len());
        match self.stack.get_mut(self.len..end) {
            Some(free) => {
                free.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.spill(bytes.len()).put(bytes),
        }
    }

    #[inline]
    fn write_with(&mut self, max: usize, write: impl FnOnce(&mut [u8]) -> usize) {
        let end = self.len.wrapping_add(max);
        match self.stack.get_mut(self.len..end) {
            Some(free) => {
                let n = write(free);
                self.len += n.min(max);
            }
            None => self.spill_with(max, write),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the pieces, on the stack or past it, the buffer holds exactly their
        /// concatenation.
        #[test]
        fn pieces_concatenate(pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12)) {
            let whole: Vec<u8> = pieces.concat();
            let mut stack = StackBuf::<256>::new();
            let mut in_place = StackBuf::<256>::new();
            for p in &pieces {
                stack.put(p);
                prop_assert_eq!(stack.len(), stack.as_slice().len());
                // Room for twice as much, of which only the piece is kept.
                in_place.write_with(2 * p.len(), |free| {
                    free[..p.len()].copy_from_slice(p);
                    p.len()
                });
            }
            prop_assert_eq!(stack.as_slice(), whole.as_slice());
            prop_assert_eq!(in_place.as_slice(), whole.as_slice());
        }
    }
}
