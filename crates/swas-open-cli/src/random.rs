//! Random bytes from the operating system, for nonces, ClientTokens and throwaway keys.

use crate::exit::Failure;

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], Failure> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)
        .map_err(|e| Failure::NoAnswer(format!("no random numbers from the system: {e}")))?;
    Ok(out)
}

/// `N` random bytes as `2 * N` lowercase hex characters.
pub fn hex<const N: usize>() -> Result<String, Failure> {
    Ok(bytes::<N>()?.iter().map(|b| format!("{b:02x}")).collect())
}
