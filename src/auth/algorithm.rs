//! The one home of JOSE signature algorithms: everything the worker knows about an
//! `alg` (its names, the key that may serve it, its signature length, and the
//! WebCrypto parameters) sits in one table row. Token parsing, key matching, the
//! WebCrypto calls and the configuration all read the row; none of them enumerates
//! algorithms, so adding one (say ES384) is one row here.
//!
//! A leaf module: it imports nothing from the crate, so configuration can depend on
//! `auth` without `auth` depending on configuration.

/// Signature algorithms this worker can verify with WebCrypto. `none` is absent by
/// construction: there is no variant for it, so no header can select "unsigned".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    EdDsa,
    Es256,
    Es512,
    Rs256,
    Ps256,
    Hs256,
}

/// Which key may verify an algorithm. Checking this before the signature is what
/// stops algorithm confusion (an RSA public key used as an HMAC secret, an Ed25519 key
/// used for ECDSA): the token picks the `alg`, never the kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFit {
    /// A JWK on a named curve: `kty` `OKP` (public key `x`) or `EC` (`x` and `y`),
    /// each coordinate exactly `coord_len` bytes.
    Curve {
        kty: &'static str,
        crv: &'static str,
        coord_len: usize,
    },
    /// An RSA JWK with a modulus of at least `min_bits`.
    Rsa { min_bits: usize },
    /// The configured shared secret, never a JWK: a JWKS (public material) must not be
    /// able to supply an HMAC key.
    Secret,
}

/// The signature lengths the algorithm allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLen {
    Exact(usize),
    /// RSA: WebCrypto checks the exact length against the key's modulus.
    AtLeast(usize),
}

impl SignatureLen {
    pub fn admits(self, len: usize) -> bool {
        match self {
            SignatureLen::Exact(n) => len == n,
            SignatureLen::AtLeast(n) => len >= n,
        }
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct AlgSpec {
    pub alg: Algorithm,
    /// Names an `alg` header (or a JWK's `alg`, or `AUTH_ALGORITHMS`) may use; the
    /// first is the canonical one. Matching is exact and case-sensitive, as RFC 7515
    /// requires: `hs256` is not `HS256`.
    pub names: &'static [&'static str],
    pub key: KeyFit,
    pub signature: SignatureLen,
    /// `crypto.subtle.importKey` algorithm parameters, as JSON text.
    pub import: &'static str,
    /// `crypto.subtle.verify` algorithm parameters, as JSON text.
    pub verify: &'static str,
}

/// Smallest RSA modulus accepted (docs/token-policy.md §3, NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

static EDDSA: AlgSpec = AlgSpec {
    alg: Algorithm::EdDsa,
    // RFC 9864's fully specified `Ed25519` is exactly EdDSA with an Ed25519 key, the
    // only EdDSA curve we accept, so it is a second name, not a second algorithm.
    names: &["EdDSA", "Ed25519"],
    key: KeyFit::Curve {
        kty: "OKP",
        crv: "Ed25519",
        coord_len: 32,
    },
    signature: SignatureLen::Exact(64),
    import: r#"{"name":"Ed25519"}"#,
    verify: r#"{"name":"Ed25519"}"#,
};

// ECDSA signatures in JWS are raw `r‖s` (RFC 7518 §3.4): a DER-encoded signature has
// another length and is refused before it reaches WebCrypto.
static ES256: AlgSpec = AlgSpec {
    alg: Algorithm::Es256,
    names: &["ES256"],
    key: KeyFit::Curve {
        kty: "EC",
        crv: "P-256",
        coord_len: 32,
    },
    signature: SignatureLen::Exact(64),
    import: r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
    verify: r#"{"name":"ECDSA","hash":"SHA-256"}"#,
};

static ES512: AlgSpec = AlgSpec {
    alg: Algorithm::Es512,
    names: &["ES512"],
    key: KeyFit::Curve {
        kty: "EC",
        crv: "P-521",
        coord_len: 66,
    },
    signature: SignatureLen::Exact(132),
    import: r#"{"name":"ECDSA","namedCurve":"P-521"}"#,
    verify: r#"{"name":"ECDSA","hash":"SHA-512"}"#,
};

static RS256: AlgSpec = AlgSpec {
    alg: Algorithm::Rs256,
    names: &["RS256"],
    key: KeyFit::Rsa {
        min_bits: MIN_RSA_BITS,
    },
    signature: SignatureLen::AtLeast(MIN_RSA_BITS / 8),
    import: r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
    verify: r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
};

static PS256: AlgSpec = AlgSpec {
    alg: Algorithm::Ps256,
    names: &["PS256"],
    key: KeyFit::Rsa {
        min_bits: MIN_RSA_BITS,
    },
    signature: SignatureLen::AtLeast(MIN_RSA_BITS / 8),
    import: r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
    // RFC 7518 §3.5: the salt is as long as the hash.
    verify: r#"{"name":"RSA-PSS","saltLength":32}"#,
};

static HS256: AlgSpec = AlgSpec {
    alg: Algorithm::Hs256,
    names: &["HS256"],
    key: KeyFit::Secret,
    signature: SignatureLen::Exact(32),
    import: r#"{"name":"HMAC","hash":"SHA-256"}"#,
    verify: r#"{"name":"HMAC"}"#,
};

/// Every algorithm, in the order of the default allowlist.
pub static TABLE: [&AlgSpec; 6] = [&EDDSA, &ES256, &ES512, &RS256, &PS256, &HS256];

impl Algorithm {
    /// The algorithms a JWKS can serve, in table order (the default allowlist).
    pub const ASYMMETRIC: [Algorithm; 5] = [
        Algorithm::EdDsa,
        Algorithm::Es256,
        Algorithm::Es512,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ];

    pub fn spec(self) -> &'static AlgSpec {
        match self {
            Algorithm::EdDsa => &EDDSA,
            Algorithm::Es256 => &ES256,
            Algorithm::Es512 => &ES512,
            Algorithm::Rs256 => &RS256,
            Algorithm::Ps256 => &PS256,
            Algorithm::Hs256 => &HS256,
        }
    }

    /// The algorithm a JOSE name denotes (any of its names, exact match).
    pub fn from_jose(name: &str) -> Option<Algorithm> {
        TABLE
            .iter()
            .find(|spec| spec.names.contains(&name))
            .map(|spec| spec.alg)
    }

    pub fn jose_name(self) -> &'static str {
        self.spec().names.first().copied().unwrap_or("")
    }

    /// Whether `name` (e.g. a JWK's `alg`) denotes this algorithm.
    pub fn is_named(self, name: &str) -> bool {
        self.spec().names.contains(&name)
    }

    /// Verified with the configured secret rather than a JWKS key.
    pub fn uses_secret(self) -> bool {
        self.spec().key == KeyFit::Secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_variants_agree() {
        for spec in TABLE {
            assert!(std::ptr::eq(spec.alg.spec(), spec), "{:?}", spec.alg);
            assert_eq!(Algorithm::from_jose(spec.names[0]), Some(spec.alg));
            assert_eq!(spec.alg.jose_name(), spec.names[0]);
        }
        let asymmetric: Vec<Algorithm> = TABLE
            .iter()
            .filter(|s| !s.alg.uses_secret())
            .map(|s| s.alg)
            .collect();
        assert_eq!(asymmetric, Algorithm::ASYMMETRIC.to_vec());
    }

    #[test]
    fn names_are_exact() {
        assert_eq!(Algorithm::from_jose("Ed25519"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::EdDsa.jose_name(), "EdDSA");
        for bad in ["none", "eddsa", "ed25519", "HS512", "RS384", "", "ES256 "] {
            assert_eq!(Algorithm::from_jose(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn signature_lengths() {
        let ok = |alg: Algorithm, len| alg.spec().signature.admits(len);
        assert!(ok(Algorithm::Es256, 64));
        // A DER ECDSA P-256 signature is 70–72 bytes.
        assert!(!ok(Algorithm::Es256, 71));
        assert!(ok(Algorithm::Es512, 132));
        assert!(!ok(Algorithm::Es512, 139));
        assert!(!ok(Algorithm::EdDsa, 63));
        assert!(!ok(Algorithm::Hs256, 31));
        assert!(!ok(Algorithm::Rs256, 128));
        assert!(ok(Algorithm::Ps256, 512));
    }

    #[test]
    fn webcrypto_parameters_are_json_objects() {
        for spec in TABLE {
            for text in [spec.import, spec.verify] {
                let v: serde_json::Value = serde_json::from_str(text).unwrap();
                assert!(v["name"].is_string(), "{text}");
            }
        }
    }
}
