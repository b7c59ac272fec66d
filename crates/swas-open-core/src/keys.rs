//! The credentials value: an AccessKey pair, with an STS token when the key is temporary,
//! whose secret parts never print. The signer uses it; the providers obtain it.

use std::fmt;

use crate::input::{validated_string, Field, InputError, Rule, Violation};

validated_string!(
    /// An AccessKey id: 1 to 128 printable ASCII characters other than `,` `;` `=` and space
    /// (they would break the V3 `Authorization` header).
    AccessKeyId,
    Rule {
        field: Field::AccessKeyId,
        text: "printable ASCII except space , ; =, 1 to 128 characters",
        max_chars: 128,
        allowed: |c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='),
    }
);

/// A secret string (AccessKey secret or STS token) that never prints.
///
/// ```
/// use swas_open::Credentials;
/// let c = Credentials::new("id", "hunter2")?.with_security_token("St5Tok3n")?;
/// assert!(!format!("{c:?}").contains("hunter2"));
/// assert!(!format!("{c:?}").contains("St5Tok3n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

const SECRET_RULE: Rule = Rule {
    field: Field::AccessKeySecret,
    text: "printable ASCII, 1 to 256 characters",
    max_chars: 256,
    allowed: |c| c.is_ascii_graphic(),
};

const TOKEN_RULE: Rule = Rule {
    field: Field::SecurityToken,
    text: "ASCII without control characters or surrounding spaces, 1 to 8192 characters",
    max_chars: 8192,
    allowed: |c| c.is_ascii() && !c.is_ascii_control(),
};

impl Secret {
    /// Validates an AccessKey secret.
    pub fn access_key_secret(value: impl Into<String>) -> Result<Self, InputError> {
        let value = value.into();
        SECRET_RULE.check(&value)?;
        Ok(Self(value))
    }

    /// Validates an STS security token.
    pub fn security_token(value: impl Into<String>) -> Result<Self, InputError> {
        let value = value.into();
        TOKEN_RULE.check(&value)?;
        // HTTP strips a header value's surrounding spaces, so V3 would sign a different token
        // than V1 sends: refuse them rather than let the schemes disagree.
        let position = if value.starts_with(' ') {
            Some(0)
        } else if value.ends_with(' ') {
            Some(value.len() - 1)
        } else {
            None
        };
        if let Some(position) = position {
            let found = None;
            return Err(TOKEN_RULE.error(Violation::Char { position, found }));
        }
        Ok(Self(value))
    }

    /// The secret itself. Call it only where the secret is used, never to print it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An AccessKey pair, with an STS security token when the key is temporary.
///
/// ```
/// use swas_open::Credentials;
/// let c = Credentials::new("LTAI-id", "s3cret")?.with_security_token("tok")?;
/// assert_eq!(c.access_key_id(), "LTAI-id");
/// assert!(!format!("{c:?}").contains("s3cret"));
/// # Ok::<(), swas_open::InputError>(())
/// ```
/// `Debug` shows the id; the secret and the token print as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: AccessKeyId,
    secret: Secret,
    security_token: Option<Secret>,
}

impl Credentials {
    /// A long-term AccessKey pair.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
    ) -> Result<Self, InputError> {
        Ok(Self {
            access_key_id: AccessKeyId::new(access_key_id)?,
            secret: Secret::access_key_secret(access_key_secret)?,
            security_token: None,
        })
    }

    /// Adds the STS security token of a temporary key.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Result<Self, InputError> {
        self.security_token = Some(Secret::security_token(token)?);
        Ok(self)
    }

    /// The AccessKey id (not a secret).
    pub fn access_key_id(&self) -> &str {
        self.access_key_id.as_str()
    }

    /// The AccessKey secret.
    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The STS security token, if any.
    pub(crate) fn security_token(&self) -> Option<&Secret> {
        self.security_token.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_with_surrounding_spaces_is_refused_where_the_space_is() {
        for (token, position) in [(" tok", 0), ("tok ", 3), ("  ", 0)] {
            let e = Secret::security_token(token).unwrap_err();
            assert_eq!(e.field, Field::SecurityToken);
            assert_eq!(e.rule, TOKEN_RULE.text);
            let found = None;
            assert_eq!(e.violation, Violation::Char { position, found });
        }
        assert!(Secret::security_token("t o k").is_ok());
    }
}
