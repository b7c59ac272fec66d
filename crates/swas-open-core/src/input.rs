//! Validated inputs of DeleteCustomImage.
//!
//! Every value type here can only hold a valid value: constructors check the rules and return an
//! [`InputError`] naming the field, the rule and the offending length or character position.

use std::convert::Infallible;
use std::fmt;

/// The field an [`InputError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    /// `RegionId`.
    RegionId,
    /// `ImageId`.
    ImageId,
    /// `ClientToken`.
    ClientToken,
    /// `AccessKeyId`.
    AccessKeyId,
    /// The AccessKey secret (never printed).
    AccessKeySecret,
    /// The STS `SecurityToken` (never printed).
    SecurityToken,
    /// `SignatureNonce`.
    SignatureNonce,
}

impl Field {
    /// The parameter's wire name.
    fn as_str(self) -> &'static str {
        match self {
            Field::RegionId => "RegionId",
            Field::ImageId => "ImageId",
            Field::ClientToken => "ClientToken",
            Field::AccessKeyId => "AccessKeyId",
            Field::AccessKeySecret => "AccessKeySecret",
            Field::SecurityToken => "SecurityToken",
            Field::SignatureNonce => "SignatureNonce",
        }
    }

    /// Secret fields never show the offending character in messages.
    fn is_secret(self) -> bool {
        matches!(self, Field::AccessKeySecret | Field::SecurityToken)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// The value is empty.
    Empty,
    /// The value has `len` characters; at most `max` are allowed.
    TooLong {
        /// Length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The character at `position` (0-based, in characters) breaks the rule.
    Char {
        /// 0-based character index.
        position: usize,
        /// The character, or `None` for secret fields, which never show their content.
        found: Option<char>,
    },
}

/// An input that breaks a documented rule. Its message names the field, the offending
/// length or character position (never the content of a secret), and the rule.
///
/// ```
/// use swas_open::ClientToken;
/// let err = ClientToken::new("tökén").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid ClientToken: character 'ö' at position 1 (rule: ASCII only, no control characters, 1 to 64 characters)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub(crate) field: Field,
    pub(crate) rule: &'static str,
    pub(crate) violation: Violation,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: ", self.field)?;
        match &self.violation {
            Violation::Empty => f.write_str("must not be empty")?,
            Violation::TooLong { len, max } => {
                write!(f, "{len} characters, at most {max} allowed")?
            }
            Violation::Char {
                position,
                found: Some(c),
            } => write!(f, "character {c:?} at position {position}")?,
            Violation::Char {
                position,
                found: None,
            } => write!(f, "character at position {position}")?,
        }
        write!(f, " (rule: {})", self.rule)
    }
}

impl std::error::Error for InputError {}

/// Lets [`DeleteCustomImage::with_client_token`] take a [`ClientToken`], whose conversion
/// cannot fail, as well as a string.
impl From<Infallible> for InputError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// A validation rule: which characters are allowed and how many.
pub(crate) struct Rule {
    pub(crate) field: Field,
    pub(crate) text: &'static str,
    pub(crate) max_chars: usize,
    pub(crate) allowed: fn(char) -> bool,
}

impl Rule {
    /// The error of a value that breaks this rule so.
    pub(crate) fn error(&self, violation: Violation) -> InputError {
        InputError {
            field: self.field,
            rule: self.text,
            violation,
        }
    }

    pub(crate) fn check(&self, value: &str) -> Result<(), InputError> {
        if value.is_empty() {
            return Err(self.error(Violation::Empty));
        }
        let mut len = 0;
        for (position, c) in value.chars().enumerate() {
            if !(self.allowed)(c) {
                let found = (!self.field.is_secret()).then_some(c);
                return Err(self.error(Violation::Char { position, found }));
            }
            len = position + 1;
        }
        if len > self.max_chars {
            return Err(self.error(Violation::TooLong {
                len,
                max: self.max_chars,
            }));
        }
        Ok(())
    }
}

/// A text of at most [`Short::MAX`] bytes kept in place: made without an allocation and
/// cloned by a copy. The storage of the short values a call makes (its `ClientToken`, its
/// nonces), whose rules admit ASCII only, up to 64 characters.
#[derive(Clone)]
pub(crate) struct Short {
    len: u8,
    bytes: [u8; Short::MAX],
}

impl Short {
    /// The most bytes it holds.
    pub(crate) const MAX: usize = 64;

    /// `text`, of at most [`Short::MAX`] bytes: a value its type's rule has admitted (at
    /// most 64 ASCII characters), or one made to fit.
    pub(crate) fn new(text: &str) -> Self {
        debug_assert!(
            text.len() <= Self::MAX,
            "a rule admitted {} bytes",
            text.len()
        );
        let len = text.len().min(Self::MAX);
        let mut bytes = [0; Self::MAX];
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        Self {
            len: len as u8,
            bytes,
        }
    }

    /// The 32 lowercase hex digits of `bytes`, in order.
    pub(crate) fn hex(bytes: &[u8; 16]) -> Self {
        let mut out = [0; Self::MAX];
        crate::encode::hex_lower_into(bytes, &mut out[..32]);
        Self {
            len: 32,
            bytes: out,
        }
    }

    /// The text of the UUID of `bytes`: lowercase hex in groups of 8, 4, 4, 4 and 12
    /// digits, joined by `-`.
    pub(crate) fn uuid(bytes: &[u8; 16]) -> Self {
        let hex = Self::hex(bytes);
        let mut out = [b'-'; Self::MAX];
        for (from, to) in [
            (0..8, 0),
            (8..12, 9),
            (12..16, 14),
            (16..20, 19),
            (20..32, 24),
        ] {
            out[to..to + from.len()].copy_from_slice(&hex.bytes[from]);
        }
        Self {
            len: 36,
            bytes: out,
        }
    }

    /// The text's bytes, for what writes them on (no UTF-8 check, unlike [`Short::as_str`]).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // ASCII only, never cut (see `new`), so never the empty fallback.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl From<String> for Short {
    fn from(text: String) -> Self {
        Self::new(&text)
    }
}

impl std::ops::Deref for Short {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Short {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Short {}

impl std::hash::Hash for Short {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Short {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Short {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Defines a validated string newtype with the usual conversions, its text in a `String`
/// or, for values of at most 64 ASCII characters, a [`Short`].
macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $rule:expr) => {
        $crate::input::validated_string!($(#[$meta])* $name, $rule, String);
    };
    ($(#[$meta:meta])* $name:ident, $rule:expr, $storage:ty) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($storage);

        impl $name {
            /// The rule every value of this type obeys.
            pub(crate) const RULE: Rule = $rule;

            /// Validates `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, InputError> {
                let value = value.into();
                Self::RULE.check(&value)?;
                Ok(Self(<$storage>::from(value)))
            }

            /// The value as sent on the wire (before percent-encoding).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::str::FromStr for $name {
            type Err = InputError;
            fn from_str(s: &str) -> Result<Self, InputError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InputError;
            fn try_from(s: String) -> Result<Self, InputError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InputError;
            fn try_from(s: &str) -> Result<Self, InputError> {
                Self::new(s)
            }
        }
    };
}
pub(crate) use validated_string;

validated_string!(
    /// A region id such as `cn-hangzhou`: 1 to 64 characters of `[a-z0-9-]`.
    ///
    /// ```
    /// use swas_open::sans_io::RegionId;
    /// assert!(RegionId::new("cn-hangzhou").is_ok());
    /// assert!(RegionId::new("CN-Hangzhou").is_err());
    /// ```
    RegionId,
    Rule {
        field: Field::RegionId,
        text: "lowercase letters, digits and '-', 1 to 64 characters",
        max_chars: 64,
        allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
    }
);

validated_string!(
    /// A custom image id such as `m-2zehv38jjmwva1ee****`: 1 to 128 characters, no whitespace
    /// or control characters.
    ImageId,
    Rule {
        field: Field::ImageId,
        text: "no whitespace or control characters, 1 to 128 characters",
        max_chars: 128,
        allowed: |c| !c.is_whitespace() && !c.is_control(),
    }
);

validated_string!(
    /// An idempotency token: ASCII only, no control characters, 1 to 64 characters (the
    /// documented rule). The same token sent again never deletes twice.
    ///
    /// ```
    /// use swas_open::ClientToken;
    /// assert!(ClientToken::new("123e4567-e89b-12d3-a456-426655440000").is_ok());
    /// assert!(ClientToken::new("x".repeat(65)).is_err());
    /// ```
    ClientToken,
    Rule {
        field: Field::ClientToken,
        text: "ASCII only, no control characters, 1 to 64 characters",
        max_chars: 64,
        allowed: |c| c.is_ascii() && !c.is_ascii_control(),
    },
    Short
);

impl ClientToken {
    /// [`as_str`](Self::as_str)'s bytes, without its UTF-8 check.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// A UUID version 4 token made from 16 random bytes (a call draws them from its seed).
    pub(crate) fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self::of(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// A UUID version 4 token from the operating system's random source: the one place in
    /// this crate that draws randomness, for callers who want to choose a call's token
    /// before making it (so that they can repeat the call with it).
    ///
    /// ```
    /// use swas_open::{ClientToken, DeleteCustomImage};
    /// let token = ClientToken::random();
    /// let input = DeleteCustomImage::new("cn-hangzhou", "m-1")?.with_client_token(token.clone())?;
    /// assert_eq!(input.client_token(), Some(&token));
    /// assert_ne!(ClientToken::random(), token);
    /// # Ok::<(), swas_open::InputError>(())
    /// ```
    pub fn random() -> Self {
        Self::of(uuid::Uuid::new_v4())
    }

    fn of(uuid: uuid::Uuid) -> Self {
        Self(Short::uuid(uuid.as_bytes()))
    }
}

/// The DeleteCustomImage request: which image to delete, where, and its idempotency token.
///
/// ```
/// use swas_open::{ClientToken, DeleteCustomImage};
/// let op = DeleteCustomImage::new("cn-hangzhou", "m-demo")?.with_client_token("token-1")?;
/// assert_eq!(op.region_id().as_str(), "cn-hangzhou");
/// assert_eq!(op.client_token().map(|t| t.as_str()), Some("token-1"));
/// let token = ClientToken::new("07070707-0707-4707-8707-070707070707")?;
/// let again = op.clone().with_client_token(token)?;
/// assert_eq!(again.client_token().map(|t| t.as_str()), Some("07070707-0707-4707-8707-070707070707"));
/// assert!(DeleteCustomImage::new("cn-hangzhou", "m demo").is_err());
/// # Ok::<(), swas_open::InputError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeleteCustomImage {
    region_id: RegionId,
    image_id: ImageId,
    client_token: Option<ClientToken>,
}

impl DeleteCustomImage {
    /// Validates the region and image ids.
    pub fn new(
        region_id: impl Into<String>,
        image_id: impl Into<String>,
    ) -> Result<Self, InputError> {
        Ok(Self {
            region_id: RegionId::new(region_id)?,
            image_id: ImageId::new(image_id)?,
            client_token: None,
        })
    }

    /// Sets the `ClientToken`: a [`ClientToken`], or a string that is validated here.
    pub fn with_client_token<T>(mut self, token: T) -> Result<Self, InputError>
    where
        T: TryInto<ClientToken>,
        InputError: From<T::Error>,
    {
        self.client_token = Some(token.try_into()?);
        Ok(self)
    }

    /// `RegionId`.
    pub fn region_id(&self) -> &RegionId {
        &self.region_id
    }

    /// `ImageId`.
    pub fn image_id(&self) -> &ImageId {
        &self.image_id
    }

    /// `ClientToken`, when set.
    pub fn client_token(&self) -> Option<&ClientToken> {
        self.client_token.as_ref()
    }

    /// The API parameters, sorted by name, as sent on the wire (before encoding), with
    /// `token` as the `ClientToken` (the input's own, or a call's).
    pub(crate) fn params<'a>(
        &'a self,
        token: Option<&'a ClientToken>,
    ) -> impl Iterator<Item = (&'static str, &'a str)> {
        let token = token.map(|t| ("ClientToken", t.as_str()));
        token.into_iter().chain([
            ("ImageId", self.image_id.as_str()),
            ("RegionId", self.region_id.as_str()),
        ])
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_token_from_random_bytes_is_a_v4_uuid() {
        let t = ClientToken::from_random_bytes([0xab; 16]);
        assert_eq!(t.as_str(), "abababab-abab-4bab-abab-abababababab");
        let t = ClientToken::from_random_bytes([7; 16]);
        assert_eq!(t.as_str(), "07070707-0707-4707-8707-070707070707");
    }

    use super::*;

    #[test]
    fn errors_name_field_rule_and_position() {
        let e = RegionId::new("cn_hangzhou").unwrap_err();
        assert_eq!(e.field, Field::RegionId);
        assert_eq!(
            e.violation,
            Violation::Char {
                position: 2,
                found: Some('_')
            }
        );
        let e = ImageId::new("").unwrap_err();
        assert_eq!(e.violation, Violation::Empty);
        let e = ClientToken::new("a".repeat(65)).unwrap_err();
        assert_eq!(e.violation, Violation::TooLong { len: 65, max: 64 });
        assert_eq!(
            e.to_string(),
            "invalid ClientToken: 65 characters, at most 64 allowed (rule: ASCII only, no control characters, 1 to 64 characters)"
        );
        let e = ImageId::new("m-1\n").unwrap_err();
        assert!(e.to_string().contains("'\\n' at position 3"), "{e}");
    }

    #[test]
    fn uuid_token_is_valid_v4() {
        let t = ClientToken::from_random_bytes([0; 16]);
        assert_eq!(t.as_str(), "00000000-0000-4000-8000-000000000000");
        assert!(ClientToken::new(t.as_str()).is_ok());
        let t = ClientToken::from_random_bytes([0xff; 16]);
        assert_eq!(t.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    proptest::proptest! {
        #[test]
        fn uuid_token_keeps_the_random_bits(bytes in proptest::array::uniform16(0u8..)) {
            let t = ClientToken::from_random_bytes(bytes);
            let s = t.as_str();
            proptest::prop_assert_eq!(s.len(), 36);
            proptest::prop_assert!(ClientToken::new(s).is_ok());
            let hex: String = s.chars().filter(|&c| c != '-').collect();
            proptest::prop_assert_eq!(&s[14..15], "4");
            proptest::prop_assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
            for (i, byte) in bytes.iter().enumerate() {
                let mask = match i {
                    6 => 0x0f,
                    8 => 0x3f,
                    _ => 0xff,
                };
                let sent = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
                proptest::prop_assert_eq!(sent & mask, byte & mask, "byte {}", i);
            }
        }
    }

    proptest::proptest! {
        /// A short text's hex and UUID forms are the `uuid` crate's.
        #[test]
        fn short_hex_and_uuid_texts(bytes in proptest::array::uniform16(0u8..)) {
            let uuid = uuid::Uuid::from_bytes(bytes);
            let (hex, text) = (Short::hex(&bytes), Short::uuid(&bytes));
            proptest::prop_assert_eq!(hex.as_str(), uuid.simple().to_string());
            proptest::prop_assert_eq!(text.as_str(), uuid.hyphenated().to_string());
            proptest::prop_assert_eq!(text.as_bytes(), text.as_str().as_bytes());
        }

        /// Equality, order and hash are the text's.
        #[test]
        fn short_compares_as_its_text(a in "[ -~]{0,64}", b in "[ -~]{0,64}") {
            use std::hash::BuildHasher;
            let (x, y) = (Short::new(&a), Short::new(&b));
            proptest::prop_assert_eq!(x.as_str(), a.as_str());
            proptest::prop_assert_eq!(x == y, a == b);
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            let hasher = std::hash::RandomState::new();
            proptest::prop_assert_eq!(hasher.hash_one(&x), hasher.hash_one(a.as_str()));
        }
    }

    #[test]
    fn one_way_to_set_the_client_token() {
        let op = DeleteCustomImage::new("cn-hangzhou", "m-1").unwrap();
        let from_str = op.clone().with_client_token("t-1").unwrap();
        let from_string = op.clone().with_client_token(String::from("t-1")).unwrap();
        let token = ClientToken::new("t-1").unwrap();
        let from_token = op.clone().with_client_token(token.clone()).unwrap();
        assert_eq!(from_str, from_string);
        assert_eq!(from_str, from_token);
        assert_eq!(from_token.client_token(), Some(&token));
        let e = op.with_client_token("t\u{7f}").unwrap_err();
        assert_eq!(e.field, Field::ClientToken);
        assert_eq!(
            e.violation,
            Violation::Char {
                position: 1,
                found: Some('\u{7f}')
            }
        );
    }

    #[test]
    fn params_are_sorted() {
        let op = DeleteCustomImage::new("cn-hangzhou", "m-1")
            .unwrap()
            .with_client_token("t")
            .unwrap();
        let names: Vec<_> = op.params(op.client_token()).map(|(n, _)| n).collect();
        assert_eq!(names, ["ClientToken", "ImageId", "RegionId"]);
    }
}
