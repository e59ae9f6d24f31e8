//! The authentication boundary. Every protected request passes through
//! `authenticate` (wasm only), which runs four small stages, each testable alone:
//!
//! 1. `token`  — Bearer extraction, strict compact-JWS syntax, header policy;
//! 2. `jwk` + `jwks` — the key for the token's `alg` and `kid`, from the configured
//!    secret (HS256) or the issuer's JWKS, cached per isolate and, best effort, across
//!    the isolates of a location (`shared_tier`, the Cache API);
//! 3. `webcrypto` — the signature, checked by `crypto.subtle.verify`;
//! 4. `claims` — expiry, issuer, audience, subject.
//!
//! Its only output is a `UserScope`, which nothing else in the crate can construct:
//! the data layer takes one for every query, so no query runs for an unverified user.

pub mod algorithm;
pub mod claims;
pub mod jwk;
pub mod jwks;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod shared_tier;
#[cfg(target_arch = "wasm32")]
mod verifier;
#[cfg(target_arch = "wasm32")]
mod webcrypto;

#[cfg(target_arch = "wasm32")]
pub use verifier::authenticate;

use crate::error::ApiError;

/// Why a token was refused. Each maps to a fixed, short `error_description`; nothing
/// from the token itself is ever echoed back or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` credentials at all.
    Missing,
    Malformed,
    TooLarge,
    AlgorithmNotAllowed,
    CriticalHeader,
    WrongType,
    UnknownKey,
    AmbiguousKey,
    KeyMismatch,
    BadSignature,
    MalformedClaims,
    MissingExpiry,
    Expired,
    NotYetValid,
    IssuedInFuture,
    WrongIssuer,
    WrongAudience,
    InvalidSubject,
}

impl AuthError {
    pub fn description(self) -> Option<&'static str> {
        Some(match self {
            AuthError::Missing => return None,
            AuthError::Malformed => "malformed token",
            AuthError::TooLarge => "token too large",
            AuthError::AlgorithmNotAllowed => "algorithm not allowed",
            AuthError::CriticalHeader => "unsupported critical header",
            AuthError::WrongType => "unsupported token type",
            AuthError::UnknownKey => "no matching key",
            AuthError::AmbiguousKey => "ambiguous key",
            AuthError::KeyMismatch => "key does not fit the algorithm",
            AuthError::BadSignature => "invalid signature",
            AuthError::MalformedClaims => "malformed claims",
            AuthError::MissingExpiry => "missing exp",
            AuthError::Expired => "token expired",
            AuthError::NotYetValid => "token not yet valid",
            AuthError::IssuedInFuture => "token issued in the future",
            AuthError::WrongIssuer => "wrong issuer",
            AuthError::WrongAudience => "wrong audience",
            AuthError::InvalidSubject => "invalid subject",
        })
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> ApiError {
        ApiError::Unauthorized {
            description: err.description(),
        }
    }
}

/// Proof that a request carries a verified token, and the identity it names. The
/// field is private and the constructor is visible to the `auth` module only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScope {
    identity: claims::Identity,
}

impl UserScope {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(in crate::auth) fn verified(identity: claims::Identity) -> Self {
        Self { identity }
    }

    /// A scope for native unit tests of the data layer; not compiled into the worker.
    #[cfg(test)]
    pub fn for_tests(user_id: &str) -> Self {
        Self::verified(claims::Identity {
            subject: user_id.into(),
            email: None,
            name: None,
        })
    }

    /// The verified `sub`: the only source of a user id anywhere in the crate.
    pub fn user_id(&self) -> &str {
        &self.identity.subject
    }

    pub fn email(&self) -> Option<&str> {
        self.identity.email.as_deref()
    }

    pub fn name(&self) -> Option<&str> {
        self.identity.name.as_deref()
    }
}
