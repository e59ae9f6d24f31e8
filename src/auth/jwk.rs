//! Stage 2 of verification: which JWK may check which algorithm (docs/token-policy.md §3), and
//! which key a token gets.
//!
//! The matching rules follow jose's: a key serves an algorithm only if its type and
//! curve fit, and its optional `alg`, `use` and `key_ops` agree. This is what stops
//! algorithm confusion: a token cannot get an RSA or EC public key used as an HMAC
//! secret, or an Ed25519 key used for ECDSA, by choosing its own `alg`.

use std::rc::Rc;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::algorithm::{Algorithm, KeyFit, TABLE};

/// Key material, in the shapes the algorithm table names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// `OKP` (only `x`) or `EC` (`x` and `y`) on a curve some algorithm uses.
    Curve {
        kty: &'static str,
        crv: &'static str,
        x: String,
        y: Option<String>,
    },
    Rsa {
        n: String,
        e: String,
        bits: usize,
    },
}

/// A verification key from the issuer's JWKS, reduced to what verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    material: Material,
    /// Algorithms (within the allowlist) this key may verify.
    serves: Vec<Algorithm>,
    /// The key material as JSON, computed once: it keys the per-isolate cache of
    /// imported `CryptoKey`s, so a refresh returning the same key re-imports nothing.
    fingerprint: Rc<str>,
}

#[derive(Deserialize)]
struct WireJwk {
    kty: Option<String>,
    crv: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    kid: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Deserialize)]
struct WireJwks {
    keys: Vec<Json>,
}

/// The JWKS document was not a JWK Set at all (as opposed to holding keys we skip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedJwks;

fn decoded_len(b64: &str) -> Option<usize> {
    Base64UrlUnpadded::decode_vec(b64).ok().map(|v| v.len())
}

/// RSA modulus size in bits, ignoring leading zero bytes a sloppy encoder may add.
fn rsa_bits(n: &str) -> Option<usize> {
    let bytes = Base64UrlUnpadded::decode_vec(n).ok()?;
    let first = bytes.iter().position(|b| *b != 0)?;
    Some((bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize)
}

impl Jwk {
    /// Reads one key. Keys of unknown or unusable shape give `None`: a JWKS may hold
    /// encryption keys, other curves or weak RSA keys next to the ones we use, and those
    /// must not make the whole set unusable.
    fn from_wire(wire: WireJwk, allowed: &[Algorithm]) -> Option<Jwk> {
        let material = match wire.kty.as_deref()? {
            "RSA" => {
                let (n, e) = (wire.n?, wire.e?);
                decoded_len(&e)?;
                let bits = rsa_bits(&n)?;
                Material::Rsa { n, e, bits }
            }
            kty => {
                // Only curves the table knows; each fixes the coordinate length, so a
                // truncated or padded point is dropped here rather than at import.
                let (kty, crv, coord_len) = curve_of(kty, wire.crv.as_deref()?)?;
                let x = wire.x?;
                let y = if kty == "EC" { Some(wire.y?) } else { None };
                let sizes_ok = decoded_len(&x)? == coord_len
                    && y.as_deref()
                        .map_or(Some(true), |y| decoded_len(y).map(|l| l == coord_len))?;
                sizes_ok.then_some(Material::Curve { kty, crv, x, y })?
            }
        };
        let usage_ok = wire.use_.as_deref().is_none_or(|u| u == "sig")
            && wire
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
        if !usage_ok {
            return None;
        }
        let serves: Vec<Algorithm> = allowed
            .iter()
            .copied()
            .filter(|alg| material.fits(*alg))
            // Any of the algorithm's names: a key published with RFC 9864's `Ed25519`
            // serves EdDSA-with-Ed25519 tokens under either header name.
            .filter(|alg| wire.alg.as_deref().is_none_or(|a| alg.is_named(a)))
            .collect();
        if serves.is_empty() {
            return None;
        }
        let mut jwk = Jwk {
            kid: wire.kid,
            material,
            serves,
            fingerprint: Rc::from(""),
        };
        jwk.fingerprint = Rc::from(jwk.import_jwk().to_string());
        Some(jwk)
    }

    pub fn serves(&self, alg: Algorithm) -> bool {
        self.serves.contains(&alg)
    }

    /// The JWK to hand to `crypto.subtle.importKey`, holding only the key material.
    /// Copying `alg`, `use` or `key_ops` from the issuer would let a quirk of theirs
    /// (e.g. `"alg": "Ed25519"`) make the import fail; we already checked them.
    pub fn import_jwk(&self) -> Json {
        match &self.material {
            Material::Curve { kty, crv, x, y } => match y {
                Some(y) => json!({"kty": kty, "crv": crv, "x": x, "y": y}),
                None => json!({"kty": kty, "crv": crv, "x": x}),
            },
            Material::Rsa { n, e, .. } => json!({"kty": "RSA", "n": n, "e": e}),
        }
    }

    /// Cheap to clone: it keys the isolate's cache of imported `CryptoKey`s.
    pub fn fingerprint(&self) -> &Rc<str> {
        &self.fingerprint
    }
}

/// The table's curve for a JWK's `kty`/`crv`, with its coordinate length.
fn curve_of(kty: &str, crv: &str) -> Option<(&'static str, &'static str, usize)> {
    TABLE.iter().find_map(|spec| match spec.key {
        KeyFit::Curve {
            kty: k,
            crv: c,
            coord_len,
        } if k == kty && c == crv => Some((k, c, coord_len)),
        _ => None,
    })
}

impl Material {
    fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg.spec().key) {
            (Material::Curve { kty, crv, .. }, KeyFit::Curve { kty: k, crv: c, .. }) => {
                *kty == k && *crv == c
            }
            (Material::Rsa { bits, .. }, KeyFit::Rsa { min_bits }) => *bits >= min_bits,
            _ => false,
        }
    }
}

/// Parses a JWKS document, keeping the keys that serve at least one allowed algorithm.
pub fn parse_jwks(body: &[u8], allowed: &[Algorithm]) -> Result<Vec<Jwk>, MalformedJwks> {
    // A JWK Set is an object (RFC 7517 §5), and so is each key. serde's derived
    // structs would also take the array form (`[[…]]`, a key as the list of its
    // members in declaration order): shapes no issuer publishes, refused here.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| MalformedJwks)?;
    if !value.is_object() {
        return Err(MalformedJwks);
    }
    let set: WireJwks = serde_json::from_value(value).map_err(|_| MalformedJwks)?;
    Ok(set
        .keys
        .into_iter()
        .filter(serde_json::Value::is_object)
        .filter_map(|k| serde_json::from_value::<WireJwk>(k).ok())
        .filter_map(|k| Jwk::from_wire(k, allowed))
        .collect())
}

/// Why no key was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoKey {
    /// No key with this `kid` (or, without a `kid`, none fits): the issuer may have
    /// rotated keys, so a JWKS refresh is worth trying.
    NotFound,
    /// The `kid` exists but its key cannot serve the token's algorithm.
    Mismatch,
    /// No `kid` and several keys fit: guessing would let any of them sign.
    Ambiguous,
}

/// Picks the key for a token: by exact `kid` when it has one, otherwise the single key
/// that fits.
pub fn select_key<'a>(
    keys: &'a [Jwk],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<&'a Jwk, NoKey> {
    match kid {
        Some(kid) => {
            let mut named = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Err(NoKey::NotFound);
            }
            named.find(|k| k.serves(alg)).ok_or(NoKey::Mismatch)
        }
        None => {
            let mut fitting = keys.iter().filter(|k| k.serves(alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => Ok(key),
                (None, _) => Err(NoKey::NotFound),
                (Some(_), Some(_)) => Err(NoKey::Ambiguous),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Algorithm] = &Algorithm::ASYMMETRIC;

    fn b64(len: usize, first: u8) -> String {
        let mut bytes = vec![0x5a; len];
        bytes[0] = first;
        Base64UrlUnpadded::encode_string(&bytes)
    }

    fn okp(kid: &str) -> Json {
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(32, 1), "kid": kid})
    }

    fn ec256(kid: &str) -> Json {
        json!({"kty": "EC", "crv": "P-256", "x": b64(32, 1), "y": b64(32, 2), "kid": kid})
    }

    fn rsa(kid: &str, bytes: usize) -> Json {
        json!({"kty": "RSA", "n": b64(bytes, 0xc1), "e": "AQAB", "kid": kid})
    }

    fn parse(keys: Vec<Json>) -> Vec<Jwk> {
        parse_jwks(json!({ "keys": keys }).to_string().as_bytes(), ALL).unwrap()
    }

    #[test]
    fn key_types_serve_their_algorithms() {
        let keys = parse(vec![okp("a"), ec256("b"), rsa("c", 256)]);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0].serves, vec![Algorithm::EdDsa]);
        assert_eq!(keys[1].serves, vec![Algorithm::Es256]);
        assert_eq!(keys[2].serves, vec![Algorithm::Rs256, Algorithm::Ps256]);
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let mut with_alg = ec256("alg-mismatch");
        with_alg["alg"] = "ES512".into();
        let mut enc = okp("enc");
        enc["use"] = "enc".into();
        let mut sign_only = okp("sign-op");
        sign_only["key_ops"] = json!(["sign"]);
        let keys = parse(vec![
            rsa("weak", 255), // 2040 bits
            json!({"kty": "EC", "crv": "secp256k1", "x": b64(32, 1), "y": b64(32, 1)}),
            json!({"kty": "OKP", "crv": "X25519", "x": b64(32, 1)}),
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-256", "x": b64(31, 1), "y": b64(32, 1)}),
            json!("not an object"),
            with_alg,
            enc,
            sign_only,
            okp("good"),
        ]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("good"));
    }

    #[test]
    fn rsa_size_ignores_leading_zero_bytes() {
        let mut padded = vec![0u8, 0x80];
        padded.extend(vec![1u8; 255]);
        let n = Base64UrlUnpadded::encode_string(&padded);
        assert_eq!(rsa_bits(&n), Some(2048));
        let keys = parse(vec![json!({"kty": "RSA", "n": n, "e": "AQAB"})]);
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn usage_members_are_honoured_when_present() {
        let mut k = okp("k");
        k["use"] = "sig".into();
        k["key_ops"] = json!(["verify"]);
        k["alg"] = "EdDSA".into();
        assert_eq!(parse(vec![k]).len(), 1);
    }

    #[test]
    fn rfc9864_ed25519_alg_on_a_jwk_serves_eddsa() {
        let mut k = okp("k");
        k["alg"] = "Ed25519".into();
        let keys = parse(vec![k]);
        assert_eq!(keys.len(), 1);
        assert!(keys[0].serves(Algorithm::EdDsa));
        // WebCrypto refuses `"alg": "Ed25519"` in a JWK, so the import form drops it.
        assert!(keys[0].import_jwk().get("alg").is_none());
        // The name does not stretch to other key types.
        let mut ec = ec256("e");
        ec["alg"] = "Ed25519".into();
        assert!(parse(vec![ec]).is_empty());
    }

    #[test]
    fn not_a_jwks() {
        for body in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"<html>", b""] {
            assert_eq!(parse_jwks(body, ALL), Err(MalformedJwks));
        }
        assert_eq!(parse_jwks(br#"{"keys":[]}"#, ALL), Ok(vec![]));
    }

    #[test]
    fn selection_by_kid() {
        let keys = parse(vec![okp("a"), ec256("b"), okp("c")]);
        assert_eq!(
            select_key(&keys, Algorithm::EdDsa, Some("c"))
                .unwrap()
                .kid
                .as_deref(),
            Some("c")
        );
        assert_eq!(
            select_key(&keys, Algorithm::Es256, Some("a")),
            Err(NoKey::Mismatch)
        );
        assert_eq!(
            select_key(&keys, Algorithm::EdDsa, Some("zz")),
            Err(NoKey::NotFound)
        );
    }

    #[test]
    fn selection_without_kid() {
        let keys = parse(vec![okp("a"), ec256("b"), okp("c")]);
        assert_eq!(
            select_key(&keys, Algorithm::Es256, None)
                .unwrap()
                .kid
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            select_key(&keys, Algorithm::EdDsa, None),
            Err(NoKey::Ambiguous)
        );
        assert_eq!(
            select_key(&keys, Algorithm::Rs256, None),
            Err(NoKey::NotFound)
        );
    }

    #[test]
    fn import_jwk_carries_only_material() {
        let mut k = okp("a");
        k["alg"] = "EdDSA".into();
        k["use"] = "sig".into();
        let keys = parse(vec![k]);
        let import = keys[0].import_jwk();
        assert_eq!(import.as_object().unwrap().len(), 3);
        assert_eq!(import["kty"], "OKP");
    }
}
