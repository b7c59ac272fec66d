//! Percent-encoding as Alibaba Cloud signs it (RFC 3986 unreserved set).
//!
//! UTF-8 bytes; `A-Z a-z 0-9 - _ . ~` stay as they are; every other byte becomes `%XY` with
//! uppercase hex. A space is `%20` (never `+`), `*` is `%2A`, `~` is never encoded.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `b` is in the unreserved set that is never encoded.
#[inline]
pub const fn is_unreserved(b: u8) -> bool {
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

/// Percent-encodes `input` onto the end of a byte buffer: unreserved runs are copied whole,
/// so mostly-unreserved input costs a scan and a copy.
pub fn percent_encode_bytes(out: &mut Vec<u8>, input: &[u8]) {
    let mut run = 0;
    for (i, &b) in input.iter().enumerate() {
        if UNRESERVED[b as usize] {
            continue;
        }
        out.extend_from_slice(&input[run..i]);
        out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
        run = i + 1;
    }
    out.extend_from_slice(&input[run..]);
}

/// Percent-encodes `input` onto the end of `out`.
///
/// ```
/// let mut s = String::new();
/// swas_open_core::encode::percent_encode_into(&mut s, "a b*c~");
/// assert_eq!(s, "a%20b%2Ac~");
/// ```
pub fn percent_encode_into(out: &mut String, input: &str) {
    let bytes = input.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        // A non-empty run holds only unreserved (ASCII) bytes, so both ends lie on char
        // boundaries; an empty run may sit inside a multi-byte character, so skip it.
        if run < i {
            out.push_str(&input[run..i]);
        }
        out.push('%');
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xF) as usize] as char);
        run = i + 1;
    }
    if run < bytes.len() {
        out.push_str(&input[run..]);
    }
}

/// Percent-encodes `input` into a new string.
///
/// ```
/// assert_eq!(swas_open_core::encode::percent_encode(" ~/*-+"), "%20~%2F%2A-%2B");
/// ```
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2);
    percent_encode_into(&mut out, input);
    out
}

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A `%` not followed by two hex digits, at this byte offset.
    #[error("bad percent-escape at byte {0}")]
    BadEscape(usize),
    /// The decoded bytes are not UTF-8.
    #[error("decoded bytes are not valid UTF-8")]
    NotUtf8,
}

/// Decodes a percent-encoded query or form component. With `plus_as_space`, `+` decodes to a
/// space (form encoding, as servers read query strings); otherwise it stays `+`.
///
/// ```
/// use swas_open_core::encode::percent_decode;
/// assert_eq!(percent_decode("a%20b+c", true).unwrap(), "a b c");
/// assert_eq!(percent_decode("a%2Ab", false).unwrap(), "a*b");
/// assert!(percent_decode("%G0", false).is_err());
/// ```
pub fn percent_decode(input: &str, plus_as_space: bool) -> Result<String, DecodeError> {
    let bytes = input.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'))
    {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let lo = bytes.get(i + 2).and_then(|&b| hex_value(b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(DecodeError::BadEscape(i)),
                }
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes` into `out`, which must be twice as long.
pub(crate) fn hex_lower_into(bytes: &[u8], out: &mut [u8]) {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    for (i, &b) in bytes.iter().enumerate() {
        out[2 * i] = LOWER[(b >> 4) as usize];
        out[2 * i + 1] = LOWER[(b & 0xF) as usize];
    }
}

/// Decodes lowercase or uppercase hex; `None` on odd length or a non-hex digit.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_and_string_encoders_agree() {
        let input: String = "a/b c=d&e%é~".repeat(30);
        let mut bytes = Vec::new();
        percent_encode_bytes(&mut bytes, input.as_bytes());
        assert_eq!(String::from_utf8(bytes).unwrap(), percent_encode(&input));
    }

    #[test]
    fn hex_round_trip() {
        let mut out = [0u8; 6];
        hex_lower_into(&[0x00, 0xab, 0xff], &mut out);
        assert_eq!(&out, b"00abff");
        assert_eq!(hex_decode("00ABff").unwrap(), vec![0x00, 0xab, 0xff]);
        assert!(hex_decode("0").is_none());
        assert!(hex_decode("zz").is_none());
    }
}
