//! The randomness of an exchange: its nonces, retry jitter, generated `ClientToken` and the
//! seeds of the fetches it starts, all drawn from the 32 bytes it was built with.

use std::fmt;

/// xoshiro256++ (Blackman and Vigna): four words of state and a handful of instructions a
/// draw. What a call draws must be unique, not secret: the service refuses a nonce it has
/// seen, a `ClientToken` only names a call, nobody signs without the key, and the jitter
/// needs neither. Uniqueness comes from the seed, 32 random bytes for each exchange (the
/// same seed gives the same draws, which is what the tests rely on).
#[derive(Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

/// The state an all-zero seed is given instead (xoshiro never leaves the all-zero state, and
/// would draw only zeros): the first four outputs of SplitMix64 from 0.
const NONZERO: [u64; 4] = [
    0xe220_a839_7b1d_cdaf,
    0x6e78_9e6a_a1b9_65f4,
    0x06c4_5d18_8009_454f,
    0xf88b_b8a8_724c_81ec,
];

/// SplitMix64's increment (the golden ratio as a 64-bit fraction).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijection of 64-bit words that spreads every input bit.
fn mix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator of this seed, read as four little-endian words, each mixed by
    /// SplitMix64's finalizer with its own increment first: from a sparse state (a seed of
    /// mostly zero bytes, as tests use) xoshiro's first draws are barely mixed, and the
    /// finalizer, a bijection, keeps distinct seeds distinct streams.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        let (words, _) = seed.as_chunks::<8>();
        let mut s = [0; 4];
        for ((word, bytes), step) in s.iter_mut().zip(words).zip(1..) {
            *word = mix(u64::from_le_bytes(*bytes).wrapping_add(GOLDEN.wrapping_mul(step)));
        }
        Self::from_state(s)
    }

    /// The generator of this state (the all-zero one replaced).
    fn from_state(s: [u64; 4]) -> Self {
        let s = if s == [0; 4] { NONZERO } else { s };
        Self { s }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// `N` random bytes (`N` a multiple of 8: 16 for a nonce or a token, 32 for a seed).
    pub(crate) fn bytes<const N: usize>(&mut self) -> [u8; N] {
        const { assert!(N.is_multiple_of(8)) };
        let mut out = [0; N];
        for chunk in out.as_chunks_mut::<8>().0 {
            *chunk = self.next_u64().to_le_bytes();
        }
        out
    }
}

/// Never the state: it tells the draws to come.
impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rng { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation's outputs for the state 1, 2, 3, 4.
    #[test]
    fn reference_outputs() {
        let mut rng = Rng::from_state([1, 2, 3, 4]);
        let expected: [u64; 10] = [
            41_943_041,
            58_720_359,
            3_588_806_011_781_223,
            3_591_011_842_654_386,
            9_228_616_714_210_784_205,
            9_973_669_472_204_895_162,
            14_011_001_112_246_962_877,
            12_406_186_145_184_390_807,
            15_849_039_046_786_891_736,
            10_450_023_813_501_588_000,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn bytes_are_the_words_in_order() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = a.clone();
        let bytes: [u8; 16] = a.bytes();
        let (first, second) = (b.next_u64(), b.next_u64());
        assert_eq!(bytes[..8], first.to_le_bytes());
        assert_eq!(bytes[8..], second.to_le_bytes());
    }

    #[test]
    fn nonzero_is_splitmix64_from_zero() {
        let splitmix = |n: u64| mix(GOLDEN.wrapping_mul(n));
        assert_eq!(NONZERO, [1, 2, 3, 4].map(splitmix));
    }

    #[test]
    fn sparse_seeds_draw_spread_values() {
        // Seeds that differ in one low byte, the rest zero: their first draws already
        // differ in about half their bits.
        let first = |k: u8| {
            let mut seed = [0; 32];
            seed[0] = k;
            Rng::from_seed(seed).next_u64()
        };
        for k in 0..50 {
            let flipped = (first(k) ^ first(k + 1)).count_ones();
            assert!((16..=48).contains(&flipped), "{k}: {flipped}");
        }
    }

    #[test]
    fn zero_state_still_draws() {
        let mut rng = Rng::from_state([0; 4]);
        let draws: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert!(draws.iter().all(|&d| d != 0), "{draws:?}");
        assert_ne!(draws[0], draws[1]);
    }

    #[test]
    fn debug_hides_the_state() {
        assert_eq!(format!("{:?}", Rng::from_seed([9; 32])), "Rng { .. }");
    }
}
