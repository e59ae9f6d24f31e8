//! Stage 3 of verification: the claim policy (docs/token-policy.md §5), applied only after the
//! signature checked out, against the runtime clock.

use jwt_compact::Claims;
use serde::Deserialize;
use serde_json::Value as Json;

use super::token::ParsedToken;
use super::AuthError;

/// Longest accepted `sub`: it becomes `tasks.user_id`, whose check constraint has the
/// same bound.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// Claims beyond the registered dates, which jwt-compact decodes (numbers only; a
/// string `exp` fails to parse and the token is refused). Kept as raw JSON so the
/// policy, not serde, decides what a wrong type means.
#[derive(Debug, Deserialize)]
struct OtherClaims {
    #[serde(default)]
    iss: Option<Json>,
    #[serde(default)]
    aud: Option<Json>,
    #[serde(default)]
    sub: Option<Json>,
    #[serde(default)]
    email: Option<Json>,
    #[serde(default)]
    name: Option<Json>,
}

/// The identity a verified token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

pub struct ClaimPolicy<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub skew_seconds: u32,
}

impl ClaimPolicy<'_> {
    /// `now_ms` is milliseconds since the Unix epoch.
    pub fn check(&self, token: &ParsedToken<'_>, now_ms: f64) -> Result<Identity, AuthError> {
        let claims: Claims<OtherClaims> = token
            .untrusted()
            .deserialize_claims_unchecked()
            .map_err(|_| AuthError::MalformedClaims)?;
        let skew_ms = f64::from(self.skew_seconds) * 1000.0;

        let exp = claims.expiration.ok_or(AuthError::MissingExpiry)?;
        if now_ms >= exp.timestamp_millis() as f64 + skew_ms {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = claims.not_before {
            if now_ms < nbf.timestamp_millis() as f64 - skew_ms {
                return Err(AuthError::NotYetValid);
            }
        }
        if let Some(iat) = claims.issued_at {
            if iat.timestamp_millis() as f64 > now_ms + skew_ms {
                return Err(AuthError::IssuedInFuture);
            }
        }

        let other = claims.custom;
        if other.iss.as_ref().and_then(Json::as_str) != Some(self.issuer) {
            return Err(AuthError::WrongIssuer);
        }
        let audience_ok = match &other.aud {
            Some(Json::String(aud)) => aud == self.audience,
            Some(Json::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::WrongAudience);
        }
        let subject = match &other.sub {
            Some(Json::String(s)) if !s.is_empty() && s.chars().count() <= MAX_SUBJECT_CHARS => {
                s.clone()
            }
            _ => return Err(AuthError::InvalidSubject),
        };
        let text = |v: Option<Json>| match v {
            Some(Json::String(s)) => Some(s),
            _ => None,
        };
        Ok(Identity {
            subject,
            email: text(other.email),
            name: text(other.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::algorithm::Algorithm;
    use crate::auth::token::{parse, tests::token};

    const NOW_S: f64 = 1_800_000_000.0;
    const NOW: f64 = NOW_S * 1000.0;

    fn policy() -> ClaimPolicy<'static> {
        ClaimPolicy {
            issuer: "https://auth.example.com",
            audience: "task-api",
            skew_seconds: 30,
        }
    }

    fn check(claims: &str) -> Result<Identity, AuthError> {
        let t = token(r#"{"alg":"EdDSA"}"#, claims);
        let parsed = parse(&t, &[Algorithm::EdDsa]).unwrap();
        policy().check(&parsed, NOW)
    }

    fn claims(extra: &str) -> String {
        let base = format!(
            r#""iss":"https://auth.example.com","aud":"task-api","sub":"user-1","exp":{}"#,
            NOW_S + 600.0
        );
        if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        }
    }

    #[test]
    fn accepts_valid_claims() {
        let id = check(&claims(r#""email":"a@b.c","name":"A","iat":1800000000"#)).unwrap();
        assert_eq!(id.subject, "user-1");
        assert_eq!(id.email.as_deref(), Some("a@b.c"));
        assert_eq!(id.name.as_deref(), Some("A"));
        let id = check(&claims(r#""email":42"#)).unwrap();
        assert_eq!(id.email, None);
    }

    #[test]
    fn expiry_with_skew() {
        let at = |exp: f64| {
            format!(
                r#"{{"iss":"https://auth.example.com","aud":"task-api","sub":"u","exp":{exp}}}"#
            )
        };
        assert_eq!(check(&at(NOW_S - 31.0)), Err(AuthError::Expired));
        assert_eq!(check(&at(NOW_S - 30.0)), Err(AuthError::Expired));
        assert!(check(&at(NOW_S - 29.0)).is_ok());
        assert!(check(&at(NOW_S + 0.5)).is_ok());
        assert_eq!(
            check(r#"{"iss":"https://auth.example.com","aud":"task-api","sub":"u"}"#),
            Err(AuthError::MissingExpiry)
        );
        assert_eq!(
            check(
                r#"{"iss":"https://auth.example.com","aud":"task-api","sub":"u","exp":"1900000000"}"#
            ),
            Err(AuthError::MalformedClaims)
        );
        assert_eq!(
            check(r#"{"iss":"https://auth.example.com","aud":"task-api","sub":"u","exp":1e300}"#),
            Err(AuthError::MalformedClaims)
        );
    }

    #[test]
    fn not_before_and_issued_at() {
        assert_eq!(
            check(&claims(&format!(r#""nbf":{}"#, NOW_S + 31.0))),
            Err(AuthError::NotYetValid)
        );
        assert!(check(&claims(&format!(r#""nbf":{}"#, NOW_S + 29.0))).is_ok());
        assert_eq!(
            check(&claims(&format!(r#""iat":{}"#, NOW_S + 31.0))),
            Err(AuthError::IssuedInFuture)
        );
        assert!(check(&claims(&format!(r#""iat":{}"#, NOW_S + 29.0))).is_ok());
        assert_eq!(
            check(&claims(r#""nbf":"soon""#)),
            Err(AuthError::MalformedClaims)
        );
    }

    #[test]
    fn issuer_and_audience() {
        let exp = NOW_S + 60.0;
        let with = |iss: &str, aud: &str| check(&format!(r#"{{{iss}{aud}"sub":"u","exp":{exp}}}"#));
        assert_eq!(
            with("", r#""aud":"task-api","#),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            with(
                r#""iss":"https://auth.example.com/","#,
                r#""aud":"task-api","#
            ),
            Err(AuthError::WrongIssuer)
        );
        let iss = r#""iss":"https://auth.example.com","#;
        assert_eq!(with(iss, ""), Err(AuthError::WrongAudience));
        assert_eq!(
            with(iss, r#""aud":"other","#),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            with(iss, r#""aud":["a","b"],"#),
            Err(AuthError::WrongAudience)
        );
        assert!(with(iss, r#""aud":["a","task-api"],"#).is_ok());
    }

    #[test]
    fn subject_rules() {
        let exp = NOW_S + 60.0;
        let with = |sub: &str| {
            check(&format!(
                r#"{{"iss":"https://auth.example.com","aud":"task-api",{sub}"exp":{exp}}}"#
            ))
        };
        assert_eq!(with(""), Err(AuthError::InvalidSubject));
        assert_eq!(with(r#""sub":"","#), Err(AuthError::InvalidSubject));
        assert_eq!(with(r#""sub":42,"#), Err(AuthError::InvalidSubject));
        let long = "é".repeat(MAX_SUBJECT_CHARS);
        assert!(with(&format!(r#""sub":"{long}","#)).is_ok());
        assert_eq!(
            with(&format!(r#""sub":"{long}x","#)),
            Err(AuthError::InvalidSubject)
        );
    }

    #[test]
    fn payload_must_be_an_object() {
        assert_eq!(check("[1,2,3]"), Err(AuthError::MalformedClaims));
        assert_eq!(check("\"sub\""), Err(AuthError::MalformedClaims));
        assert_eq!(
            check(r#"{"sub":"a","sub":"b","exp":1900000000}"#),
            Err(AuthError::MalformedClaims)
        );
    }
}
