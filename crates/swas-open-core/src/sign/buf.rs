//! Where the fast signers write: buffers on the stack for the query and for what is only
//! hashed (the V1 string to sign, the V3 canonical request), so an ordinary request
//! allocates for neither.

/// Something bytes are appended to.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl<T: Sink> Sink for &mut T {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }
}

/// Bytes on the stack up to `N`, on the heap past that.
pub(crate) struct StackBuf<const N: usize> {
    stack: [u8; N],
    /// Bytes used in `stack`; `N` once spilled, so every later write takes the slow path.
    len: usize,
    heap: Vec<u8>,
}

impl<const N: usize> StackBuf<N> {
    pub(crate) fn new() -> Self {
        Self {
            stack: [0; N],
            len: 0,
            heap: Vec::new(),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        if self.heap.is_empty() {
            self.heap.reserve(2 * N + bytes.len());
            self.heap.extend_from_slice(&self.stack[..self.len]);
            self.len = N;
        }
        self.heap.extend_from_slice(bytes);
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
            None => self.spill(bytes),
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
            for p in &pieces {
                stack.put(p);
                prop_assert_eq!(stack.len(), stack.as_slice().len());
            }
            prop_assert_eq!(stack.as_slice(), whole.as_slice());
        }
    }
}
