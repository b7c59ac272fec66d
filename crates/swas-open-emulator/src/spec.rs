//! Command-line specs of keys and images, shared by the `swas-emulator` binary and the `swas`
//! CLI.

use swas_open_core::credentials::Secret;
use swas_open_core::{ImageId, RegionId};

/// Parses `ID:SECRET[:STS_TOKEN]` into the id, the secret and the optional STS token.
///
/// The token is everything after the second `:`, so it may itself contain `:`. Error messages
/// never repeat the secret or the token.
///
/// ```
/// use swas_open_emulator::parse_access_key_spec;
/// assert_eq!(
///     parse_access_key_spec("ak:sk").unwrap(),
///     ("ak".to_owned(), "sk".to_owned(), None)
/// );
/// assert_eq!(
///     parse_access_key_spec("STS.ak:sk:tok").unwrap().2.as_deref(),
///     Some("tok")
/// );
/// assert!(parse_access_key_spec("only-an-id").is_err());
/// ```
pub fn parse_access_key_spec(s: &str) -> Result<(String, String, Option<String>), String> {
    const FORM: &str = "expected ID:SECRET or ID:SECRET:STS_TOKEN";
    let mut parts = s.splitn(3, ':');
    let id = parts.next().unwrap_or_default();
    let secret = parts
        .next()
        .ok_or_else(|| format!("access key {id:?}: {FORM}"))?;
    let token = parts.next();
    if id.is_empty() {
        return Err(format!("access key: empty id ({FORM})"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='))
    {
        return Err(format!(
            "access key {id:?}: the id must be printable ASCII without , ; ="
        ));
    }
    Secret::access_key_secret(secret).map_err(|e| format!("access key {id:?}: {e}"))?;
    if let Some(token) = token {
        Secret::security_token(token).map_err(|e| format!("access key {id:?}: {e}"))?;
    }
    Ok((id.to_owned(), secret.to_owned(), token.map(str::to_owned)))
}

/// Parses `REGION:IMAGE_ID[:shared]` into the region, the image id and whether the image is
/// shared (a shared image cannot be deleted).
///
/// ```
/// use swas_open_emulator::parse_image_spec;
/// assert_eq!(
///     parse_image_spec("cn-hangzhou:m-1").unwrap(),
///     ("cn-hangzhou".to_owned(), "m-1".to_owned(), false)
/// );
/// assert!(parse_image_spec("cn-hangzhou:m-2:shared").unwrap().2);
/// assert!(parse_image_spec("cn-hangzhou").is_err());
/// assert!(parse_image_spec("cn-hangzhou:m-3:public").is_err());
/// ```
pub fn parse_image_spec(s: &str) -> Result<(String, String, bool), String> {
    const FORM: &str = "expected REGION:IMAGE_ID or REGION:IMAGE_ID:shared";
    let mut parts = s.split(':');
    let (Some(region), Some(image)) = (parts.next(), parts.next()) else {
        return Err(format!("image {s:?}: {FORM}"));
    };
    let shared = match (parts.next(), parts.next()) {
        (None, _) => false,
        (Some("shared"), None) => true,
        _ => return Err(format!("image {s:?}: {FORM}")),
    };
    RegionId::new(region).map_err(|e| format!("image {s:?}: {e}"))?;
    ImageId::new(image).map_err(|e| format!("image {s:?}: {e}"))?;
    Ok((region.to_owned(), image.to_owned(), shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_specs() {
        assert_eq!(
            parse_access_key_spec("id:se:cr:et").unwrap(),
            ("id".into(), "se".into(), Some("cr:et".into()))
        );
        for bad in [
            "",
            "id",
            ":secret",
            "id:",
            "id:sec ret",
            "id:secret:",
            "i d:s",
        ] {
            assert!(parse_access_key_spec(bad).is_err(), "{bad}");
        }
        let err = parse_access_key_spec("id:top secret").unwrap_err();
        assert!(!err.contains("top"), "{err}");
    }

    #[test]
    fn image_specs() {
        for bad in [
            "",
            "cn-hangzhou",
            "cn-hangzhou:",
            "CN:m-1",
            "r:m 1",
            "r:m:shared:x",
        ] {
            assert!(parse_image_spec(bad).is_err(), "{bad}");
        }
    }
}
