//! Percent-encoding as Alibaba Cloud signs it (RFC 3986 unreserved set).
//!
//! UTF-8 bytes; `A-Z a-z 0-9 - _ . ~` stay as they are; every other byte becomes `%XY` with
//! uppercase hex. A space is `%20` (never `+`), `*` is `%2A`, `~` is never encoded.
//!
//! The signers' hot paths use the lookup table below (measured faster than a generic encoder
//! on these short values); everything else uses `percent-encoding` with the same set.

use crate::buf::Sink;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Every byte but the unreserved ones, for `percent-encoding`.
const ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `b` is in the unreserved set that is never encoded.
#[inline]
pub(crate) const fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
}

/// The unreserved set as a table: one load per byte on the signing hot path.
static UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    t
};

/// The two uppercase hex digits of `b`.
#[inline]
fn hex_upper(b: u8) -> [u8; 2] {
    [HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]
}

/// Whether every byte of `input` is unreserved. Most values (tokens, nonces, regions) need
/// no escape and are then copied whole. Sixteen bytes at a time, branch-free, so it
/// vectorizes; the last chunk overlaps the one before it, and an input shorter than a chunk
/// is looked up byte by byte.
#[inline]
pub(crate) fn all_unreserved(input: &[u8]) -> bool {
    #[inline]
    fn reserved_in(chunk: &[u8]) -> u8 {
        let chunk: &[u8; 16] = chunk.try_into().expect("a chunk of 16");
        let mut reserved = 0u8;
        for &b in chunk {
            let letter = (b | 0x20).wrapping_sub(b'a') < 26;
            let digit = b.wrapping_sub(b'0') < 10;
            let ok = letter | digit | (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~');
            reserved |= u8::from(!ok);
        }
        reserved
    }
    let Some(last) = input.len().checked_sub(16) else {
        return input.iter().all(|&b| is_unreserved(b));
    };
    let mut chunks = input.chunks_exact(16);
    let mut reserved = 0u8;
    for chunk in &mut chunks {
        reserved |= reserved_in(chunk);
    }
    if !chunks.remainder().is_empty() {
        reserved |= reserved_in(&input[last..]);
    }
    reserved == 0
}

/// Percent-encodes `input` into `out`, each escape written as `escape` and two uppercase
/// hex digits (`%XY`; `%25XY` for a value encoded twice, as in the V1 string to sign).
/// `out` has room for `escape.len() + 2` bytes per input byte; returns the bytes written.
#[inline]
pub(crate) fn encode_into(input: &[u8], out: &mut [u8], escape: &[u8]) -> usize {
    let mut n = 0;
    for &b in input {
        if is_unreserved(b) {
            out[n] = b;
            n += 1;
        } else {
            out[n..n + escape.len()].copy_from_slice(escape);
            n += escape.len();
            out[n..n + 2].copy_from_slice(&hex_upper(b));
            n += 2;
        }
    }
    n
}

/// Percent-encodes `input` onto the end of a byte buffer.
#[inline]
pub(crate) fn percent_encode_into_sink(out: &mut impl Sink, input: &[u8]) {
    if all_unreserved(input) {
        out.put(input);
    } else {
        out.write_with(3 * input.len(), |free| encode_into(input, free, b"%"));
    }
}

/// Percent-encodes `input` onto the end of `out`.
pub(crate) fn percent_encode_into(out: &mut String, input: &str) {
    out.extend(percent_encoding::utf8_percent_encode(input, ENCODE_SET));
}

/// Percent-encodes `input` into a new string.
pub(crate) fn percent_encode(input: &str) -> String {
    percent_encoding::utf8_percent_encode(input, ENCODE_SET).to_string()
}

/// `percentEncode(name)=percentEncode(value)` of each pair, in order, joined with `&` (an
/// empty value stays `name=`): a form body, or, sorted, a canonical query.
pub(crate) fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name);
        out.push('=');
        percent_encode_into(&mut out, value);
    }
    out
}

/// Lowercase hex of `bytes` into `out`, which must be twice as long: one table load per
/// byte, for V3's two digests per request (the `hex` crate's encoder, which serves
/// everything else, took about twice the instructions here).
pub(crate) fn hex_lower_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// The two lowercase hex digits of every byte.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0; 2]; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = [DIGITS[b >> 4], DIGITS[b & 0xF]];
        b += 1;
    }
    t
};

#[cfg(any(test, feature = "verify"))]
/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hex digits, at this byte offset.
    #[error("bad percent-escape at byte {0}")]
    BadEscape(usize),
    /// The decoded bytes are not UTF-8.
    #[error("decoded bytes are not valid UTF-8")]
    NotUtf8,
}

#[cfg(any(test, feature = "verify"))]
/// Decodes a query or form component as servers read them: `+` is a space, and every `%`
/// must start an escape of two hex digits.
pub(crate) fn form_decode(input: &str) -> Result<String, DecodeError> {
    let bytes = input.as_bytes();
    if let Some(at) = bytes.iter().enumerate().position(|(i, &b)| {
        b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(DecodeError::BadEscape(at));
    }
    use std::borrow::Cow;
    let spaced: Cow<'_, str> = if bytes.contains(&b'+') {
        input.replace('+', " ").into()
    } else {
        input.into()
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| DecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decode_rules() {
        assert_eq!(form_decode("a%20b+c%2B").unwrap(), "a b c+");
        assert_eq!(form_decode("a%2Ab").unwrap(), "a*b");
        assert_eq!(form_decode("%G0"), Err(DecodeError::BadEscape(0)));
        assert_eq!(form_decode("ab%4"), Err(DecodeError::BadEscape(2)));
        assert_eq!(form_decode("%FF"), Err(DecodeError::NotUtf8));
    }

    proptest! {
        /// The hot path's hex agrees with the `hex` crate's.
        #[test]
        fn hex_lower_agrees_with_the_hex_crate(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut out = vec![0; 2 * bytes.len()];
            hex_lower_into(&bytes, &mut out);
            prop_assert_eq!(out, hex::encode(&bytes).into_bytes());
        }

        /// The vectorized check agrees with the table, wherever a reserved byte sits.
        #[test]
        fn all_unreserved_agrees_with_the_table(
            base in "[A-Za-z0-9._~-]{0,70}",
            extra in any::<u8>(),
            at in any::<proptest::sample::Index>(),
            insert in any::<bool>(),
        ) {
            let mut bytes = base.into_bytes();
            if insert {
                bytes.insert(at.index(bytes.len() + 1), extra);
            }
            prop_assert_eq!(all_unreserved(&bytes), bytes.iter().all(|&b| is_unreserved(b)));
        }

        /// The table encoder, the crate's encoder and the set agree, and decoding inverts them.
        #[test]
        fn encoders_agree_and_round_trip(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
            prop_assert_eq!(all_unreserved(s.as_bytes()), s.bytes().all(is_unreserved));
            let mut bytes = Vec::new();
            percent_encode_into_sink(&mut bytes, s.as_bytes());
            let e = percent_encode(&s);
            prop_assert_eq!(std::str::from_utf8(&bytes).unwrap(), e.as_str());
            prop_assert_eq!(form_decode(&e).unwrap(), s.clone());
            let b = e.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    prop_assert!(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit());
                    prop_assert!(!b[i + 1].is_ascii_lowercase() && !b[i + 2].is_ascii_lowercase());
                    i += 3;
                } else {
                    prop_assert!(b[i].is_ascii_alphanumeric() || b"-_.~".contains(&b[i]), "{:?}", e);
                    i += 1;
                }
            }
        }
    }
}
