//! Stage 1 of verification: from the `Authorization` header to a parsed, not yet
//! trusted token whose header passed policy (docs/token-policy.md §1–2).
//!
//! Everything here runs before any key is looked at, so malformed or hostile input is
//! refused cheaply and without touching the JWKS.

use jwt_compact::UntrustedToken;
use serde::Deserialize;
use serde_json::Value as Json;

use super::algorithm::Algorithm;
use super::AuthError;

/// Tokens above this size are refused before any decoding (docs/token-policy.md §1): a real Better
/// Auth token is well under 2 KiB, and decoding megabytes of base64 per request is a
/// cheap denial of service.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Header members jwt-compact leaves to us. `jwk`, `jku`, `x5u` and `x5c` would let a
/// token name its own key; they are parsed only so they are visibly *not* used.
#[derive(Debug, Default, Deserialize)]
pub struct HeaderExtras {
    /// Any value counts as present, `null` included: plain `Option` would read
    /// `"crit": null` as absent, and a header that names `crit` at all is asking for
    /// processing rules we do not implement.
    #[serde(default, deserialize_with = "present")]
    crit: Option<Json>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

pub struct ParsedToken<'a> {
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signed_data: &'a [u8],
    pub signature: Vec<u8>,
    token: UntrustedToken<'a, HeaderExtras>,
}

impl<'a> ParsedToken<'a> {
    pub fn untrusted(&self) -> &UntrustedToken<'a, HeaderExtras> {
        &self.token
    }
}

/// Extracts the token from the one `Authorization` header. `header` is that header's
/// value as the runtime reports it; two headers arrive joined by ", ", which the
/// strict token syntax below then refuses.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Missing)?;
    // RFC 7235: the scheme is case-insensitive. Another scheme (Basic, …) means no
    // bearer credentials were offered at all.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// Parses a compact JWS and applies the header policy.
pub fn parse<'a>(token: &'a str, allowed: &[Algorithm]) -> Result<ParsedToken<'a>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::TooLarge);
    }
    // Exactly three non-empty base64url segments, no padding, no whitespace. Checked
    // here rather than trusted to the decoder, so that lenient decoding can never make
    // two different strings verify as the same token.
    let segments: Vec<&str> = token.split('.').collect();
    let well_formed = segments.len() == 3
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Err(AuthError::Malformed);
    }
    let parsed: UntrustedToken<'a, HeaderExtras> =
        UntrustedToken::try_from(token).map_err(|_| AuthError::Malformed)?;

    // `none` and anything else outside the allowlist have no `Algorithm` value, and an
    // algorithm we could verify but the operator did not allow is refused the same way.
    let algorithm = Algorithm::from_jose(parsed.algorithm())
        .filter(|alg| allowed.contains(alg))
        .ok_or(AuthError::AlgorithmNotAllowed)?;
    let header = parsed.header();
    // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must
    // reject the token. We understand none.
    if header.other_fields.crit.is_some() {
        return Err(AuthError::CriticalHeader);
    }
    if let Some(typ) = &header.token_type {
        if !typ.eq_ignore_ascii_case("JWT") {
            return Err(AuthError::WrongType);
        }
    }
    let key_id = header.key_id.clone();
    let signature = parsed.signature_bytes().to_vec();
    let signed_data = &token.as_bytes()[..token.rfind('.').unwrap_or(0)];
    Ok(ParsedToken {
        algorithm,
        key_id,
        signed_data,
        signature,
        token: parsed,
    })
}

/// Whether the signature has a length the algorithm allows (see the table in
/// `algorithm.rs`); refused here rather than handed to WebCrypto.
pub fn signature_length_ok(alg: Algorithm, len: usize) -> bool {
    alg.spec().signature.admits(len)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn b64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    pub fn token(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(claims.as_bytes()),
            b64(&[7; 64])
        )
    }

    const ALL: &[Algorithm] = &[Algorithm::EdDsa, Algorithm::Es256, Algorithm::Hs256];

    #[test]
    fn bearer_extraction() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bEaReR abc")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::Missing)
        );
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::Malformed));
        assert_eq!(bearer_token(Some("Bearerabc")), Err(AuthError::Missing));
    }

    #[test]
    fn accepts_a_well_formed_token() {
        let t = token(
            r#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#,
            r#"{"sub":"u"}"#,
        );
        let parsed = parse(&t, ALL).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::EdDsa);
        assert_eq!(parsed.key_id.as_deref(), Some("k1"));
        assert_eq!(parsed.signature, vec![7; 64]);
        assert_eq!(parsed.signed_data, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn refuses_algorithms_outside_the_allowlist() {
        for alg in ["none", "None", "HS512", "RS384", "eddsa", "PS256"] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
            assert_eq!(
                parse(&t, ALL).err(),
                Some(AuthError::AlgorithmNotAllowed),
                "{alg}"
            );
        }
        let t = token(r#"{"alg":"HS256"}"#, "{}");
        assert_eq!(
            parse(&t, &[Algorithm::EdDsa]).err(),
            Some(AuthError::AlgorithmNotAllowed)
        );
        let no_alg = token(r#"{"kid":"k"}"#, "{}");
        assert!(parse(&no_alg, ALL).is_err());
    }

    #[test]
    fn refuses_crit_and_foreign_types() {
        let t = token(r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#, "{}");
        assert_eq!(parse(&t, ALL).err(), Some(AuthError::CriticalHeader));
        let t = token(r#"{"alg":"EdDSA","typ":"at+jwt"}"#, "{}");
        assert_eq!(parse(&t, ALL).err(), Some(AuthError::WrongType));
        let t = token(r#"{"alg":"EdDSA","typ":"jwt"}"#, "{}");
        assert!(parse(&t, ALL).is_ok());
    }

    #[test]
    fn any_crit_is_refused_null_and_empty_included() {
        for crit in ["null", "[]", "[\"b64\"]", "\"exp\"", "{}"] {
            let t = token(&format!(r#"{{"alg":"EdDSA","crit":{crit}}}"#), "{}");
            assert_eq!(
                parse(&t, ALL).err(),
                Some(AuthError::CriticalHeader),
                "{crit}"
            );
        }
    }

    #[test]
    fn ed25519_is_eddsa() {
        // RFC 9864's fully specified name: allowed wherever EdDSA is.
        let t = token(r#"{"alg":"Ed25519","kid":"k"}"#, "{}");
        assert_eq!(parse(&t, ALL).unwrap().algorithm, Algorithm::EdDsa);
        assert_eq!(
            parse(&t, &[Algorithm::Es256]).err(),
            Some(AuthError::AlgorithmNotAllowed)
        );
        for bad in ["ed25519", "Ed448", "ED25519"] {
            let t = token(&format!(r#"{{"alg":"{bad}"}}"#), "{}");
            assert_eq!(
                parse(&t, ALL).err(),
                Some(AuthError::AlgorithmNotAllowed),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_malformed_structure() {
        let good = token(r#"{"alg":"EdDSA"}"#, "{}");
        let (h, rest) = good.split_once('.').unwrap();
        let cases = [
            format!("{h}.{rest}.extra"),
            format!("{h}.{}", rest.split('.').next().unwrap()),
            format!("{good}="),
            format!("{h}=.{rest}"),
            format!("{h} .{rest}"),
            format!("{h}.\n{rest}"),
            format!("{h}+/.{rest}"),
            format!(".{rest}"),
            format!("{h}.{}.", rest.split('.').next().unwrap()),
            "not-a-token".to_string(),
            "a.b.c".to_string(),
            format!("{}.{rest}", b64(b"[1,2]")),
            format!("{}.{rest}", b64(b"not json")),
        ];
        for bad in cases {
            assert!(parse(&bad, ALL).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_oversized_tokens_before_decoding() {
        let claims = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_TOKEN_BYTES));
        let t = token(r#"{"alg":"EdDSA"}"#, &claims);
        assert_eq!(parse(&t, ALL).err(), Some(AuthError::TooLarge));
    }
}
