//! The invariants each fuzz target asserts, one public function per target.
//!
//! "Did not crash" is not enough: each function checks what its parser promises —
//! what the token parser accepts is canonical, a cursor is accepted only if it
//! round-trips, a decoded Neon reply re-encodes to an equivalent one, an accepted task
//! body re-validates to itself, the router agrees with an independent matcher.
//!
//! This file is also compiled into the crate's native tests (tests/fuzz_regressions.rs
//! includes it by path), so it may only use `task_api`'s public API and crates the
//! worker itself depends on (serde_json, base64ct, url).
//!
//! Input layout: most targets take a few leading control bytes (which allowlist,
//! which mode) and treat the rest as the untrusted bytes; `Input` splits them so a
//! short input is never an error.
//!
//! Adding a target (say `if_match` for the `If-Match` parser): a function here, a
//! three-line file in fuzz_targets/, a `[[bin]]` in Cargo.toml, a seeds/ folder and
//! its name in `TARGETS` (scripts/fuzz.sh reads that list from here).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Map, Value as Json};

use task_api::api::routes::{self, RouteError, RESOURCES};
use task_api::auth::algorithm::{Algorithm, TABLE};
use task_api::auth::claims::{ClaimPolicy, MAX_SUBJECT_CHARS};
use task_api::auth::jwk::{parse_jwks, select_key, NoKey};
use task_api::auth::token::{bearer_token, parse, signature_length_ok, MAX_TOKEN_BYTES};
use task_api::auth::AuthError;
use task_api::db::protocol::{parse_batch, parse_error, parse_single, DbError, QueryResult, Value};
use task_api::error::ApiError;
use task_api::tasks::conditional::{
    etag, idempotency_key, if_match, if_none_match, versions_param, IfMatch, IfNoneMatch,
};
use task_api::tasks::input::{
    body_object, completion, new_task, parse_task_id, patch, replacement, BodyNeed,
    MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS,
};
use task_api::tasks::listing::{
    encode_cursor, list_query as parse_list_query, next_link, ListQuery, SortColumn, MAX_LIMIT,
    MAX_SEARCH_CHARS,
};
use task_api::tasks::{NewTask, Task};
use task_api::timestamp::Timestamp;

/// Every target, in the order scripts/fuzz.sh runs them (one per line, read by grep).
pub const TARGETS: &[&str] = &[
    "token",
    "claims",
    "jwks",
    "neon_response",
    "timestamp",
    "task_body",
    "list_query",
    "conditional",
    "route",
];

/// Findings the fuzzer made whose fix belongs in src/ and has not landed yet (see
/// docs/resilience.md, "Findings"). While a name is listed here its check is skipped
/// and its regression test in tests/fuzz_regressions.rs is `#[ignore]`d; the fix is to
/// delete the name and the `#[ignore]` together.
pub const PENDING: &[&str] = &[];

/// In the native tests (`cfg(test)`) nothing is pending: the ignored regression test
/// of a finding fails until its fix lands.
pub fn pending(finding: &str) -> bool {
    !cfg!(test) && PENDING.contains(&finding)
}

/// Control bytes first, then the untrusted rest.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn rest(self) -> &'a [u8] {
        self.0
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// An allowlist from a bit mask over the algorithm table; 0 means all of it.
fn allowlist(mask: u8) -> Vec<Algorithm> {
    let all: Vec<Algorithm> = TABLE.iter().map(|s| s.alg).collect();
    if mask & 0x3f == 0 {
        return all;
    }
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| mask >> i & 1 == 1)
        .map(|(_, a)| a)
        .collect()
}

// ---------------------------------------------------------------------------------
// token: Bearer extraction, compact-JWS syntax and header policy (docs/token-policy.md §1–2)

/// Layout: [allowlist mask] then an `Authorization` header value, also tried as a
/// bare token so the fuzzer need not first discover the word "Bearer".
pub fn token(data: &[u8]) {
    let mut input = Input(data);
    let allowed = allowlist(input.byte());
    let Ok(header) = std::str::from_utf8(input.rest()) else {
        return;
    };
    match bearer_token(Some(header)) {
        Ok(tok) => {
            let (scheme, rest) = header.split_once(' ').expect("accepted without a space");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "scheme {scheme:?}");
            assert!(!tok.is_empty());
            assert_eq!(
                rest.trim_start_matches(' '),
                tok,
                "token is not the rest verbatim"
            );
            check_token(tok, &allowed);
        }
        Err(e) => assert!(
            matches!(e, AuthError::Missing | AuthError::Malformed),
            "bearer extraction gave {e:?}"
        ),
    }
    check_token(header, &allowed);
}

fn check_token(token: &str, allowed: &[Algorithm]) {
    let parsed = match parse(token, allowed) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(
                matches!(
                    e,
                    AuthError::Malformed
                        | AuthError::TooLarge
                        | AuthError::AlgorithmNotAllowed
                        | AuthError::CriticalHeader
                        | AuthError::WrongType
                ),
                "stage 1 refused with a later stage's error {e:?}"
            );
            if e == AuthError::TooLarge {
                assert!(token.len() > MAX_TOKEN_BYTES);
            }
            return;
        }
    };
    assert!(token.len() <= MAX_TOKEN_BYTES);
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "accepted {} segments", segments.len());
    // Canonical: every segment is the one base64url text of its bytes, so no two
    // different strings are accepted as the same token.
    let decoded: Vec<Vec<u8>> = segments
        .iter()
        .map(|s| Base64UrlUnpadded::decode_vec(s).expect("an accepted segment decodes"))
        .collect();
    let again = format!(
        "{}.{}.{}",
        b64(&decoded[0]),
        b64(&decoded[1]),
        b64(&parsed.signature)
    );
    assert_eq!(again, token, "re-encoding an accepted token changes it");
    assert_eq!(
        parsed.signed_data,
        format!("{}.{}", segments[0], segments[1]).as_bytes()
    );
    assert!(allowed.contains(&parsed.algorithm));

    // The header the policy saw, read independently.
    let header: Json = serde_json::from_slice(&decoded[0]).expect("accepted header is JSON");
    let header = header.as_object().expect("accepted header is an object");
    assert_eq!(
        header
            .get("alg")
            .and_then(Json::as_str)
            .and_then(Algorithm::from_jose),
        Some(parsed.algorithm),
        "alg of the header and of the parse differ"
    );
    assert!(!header.contains_key("crit"), "crit accepted");
    if let Some(typ) = header.get("typ").filter(|v| !v.is_null()) {
        assert!(
            typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")),
            "typ {typ} accepted"
        );
    }
    assert_eq!(
        header.get("kid").and_then(Json::as_str),
        parsed.key_id.as_deref(),
        "kid of the header and of the parse differ"
    );
    let _ = signature_length_ok(parsed.algorithm, parsed.signature.len());
}

// ---------------------------------------------------------------------------------
// claims: the claim policy (docs/token-policy.md §5)

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "task-api";
const NOW_S: i64 = 1_800_000_000;

/// Layout: [skew byte][2 bytes: clock offset in s] then the JWT payload bytes.
pub fn claims(data: &[u8]) {
    let mut input = Input(data);
    let skew = u32::from(input.byte()) * 300 / 255;
    let offset = i16::from_le_bytes([input.byte(), input.byte()]);
    let now_s = NOW_S + i64::from(offset);
    let payload = input.rest();
    let policy = ClaimPolicy {
        issuer: ISSUER,
        audience: AUDIENCE,
        skew_seconds: skew,
    };
    let outcome = check_claims(&policy, payload, now_s);

    let oracle = serde_json::from_slice::<Json>(payload)
        .ok()
        .and_then(|v| v.as_object().cloned());
    if let Ok(identity) = &outcome {
        let claims = oracle
            .as_ref()
            .expect("accepted a payload that is not a JSON object");
        assert_eq!(claims.get("iss").and_then(Json::as_str), Some(ISSUER));
        let aud_ok = match claims.get("aud") {
            Some(Json::String(a)) => a == AUDIENCE,
            Some(Json::Array(a)) => a.iter().any(|x| x.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        assert!(aud_ok, "audience accepted: {:?}", claims.get("aud"));
        let sub = claims.get("sub").and_then(Json::as_str).expect("sub");
        assert_eq!(sub, identity.subject);
        assert!(!sub.is_empty() && sub.chars().count() <= MAX_SUBJECT_CHARS);
        let skew_s = i64::from(skew);
        let exp = seconds(claims.get("exp")).expect("accepted without a numeric exp");
        assert!(now_s < exp.saturating_add(skew_s), "expired token accepted");
        if let Some(nbf) = claims.get("nbf") {
            let nbf = seconds(Some(nbf)).expect("non-numeric nbf accepted");
            assert!(
                now_s >= nbf.saturating_sub(skew_s),
                "nbf in the future accepted"
            );
        }
        if let Some(iat) = claims.get("iat") {
            let iat = seconds(Some(iat)).expect("non-numeric iat accepted");
            assert!(
                iat <= now_s.saturating_add(skew_s),
                "iat in the future accepted"
            );
        }
        let text = |k: &str| claims.get(k).and_then(Json::as_str).map(str::to_owned);
        assert_eq!(identity.email, text("email"));
        assert_eq!(identity.name, text("name"));
    }

    // Completeness: plainly valid claims (dates well inside their windows), written
    // canonically, are accepted whatever else the payload holds.
    if let Some(claims) = oracle {
        if plainly_valid(&claims, now_s, i64::from(skew)) {
            let canonical = serde_json::to_vec(&Json::Object(claims)).unwrap_or_default();
            if let Err(e) = check_claims(&policy, &canonical, now_s) {
                if canonical.len() < 6 * 1024 {
                    panic!("plainly valid claims refused: {e:?}");
                }
            }
        }
    }
}

fn check_claims(
    policy: &ClaimPolicy<'_>,
    payload: &[u8],
    now_s: i64,
) -> Result<task_api::auth::claims::Identity, AuthError> {
    let token = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"EdDSA"}"#),
        b64(payload),
        b64(&[7; 64])
    );
    let parsed = parse(&token, &[Algorithm::EdDsa])?;
    policy.check(&parsed, now_s as f64 * 1000.0)
}

/// A NumericDate as jwt-compact reads it: whole seconds (fractions truncated).
fn seconds(v: Option<&Json>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

fn plainly_valid(claims: &Map<String, Json>, now_s: i64, skew: i64) -> bool {
    let within = |v: &Json, lo: i64, hi: i64| v.as_i64().is_some_and(|n| (lo..=hi).contains(&n));
    claims.get("iss").and_then(Json::as_str) == Some(ISSUER)
        && matches!(claims.get("aud"), Some(Json::String(a)) if a == AUDIENCE)
        && claims
            .get("sub")
            .and_then(Json::as_str)
            .is_some_and(|s| !s.is_empty() && s.chars().count() <= MAX_SUBJECT_CHARS)
        && claims
            .get("exp")
            .is_some_and(|v| within(v, now_s - skew + 2, 10_000_000_000))
        && claims
            .get("nbf")
            .is_none_or(|v| within(v, 0, now_s + skew - 2))
        && claims
            .get("iat")
            .is_none_or(|v| within(v, 0, now_s + skew - 2))
}

// ---------------------------------------------------------------------------------
// jwks: JWK Set parsing and key selection (docs/token-policy.md §3)

/// Layout: [allowlist mask][alg index][kid length, 255 = no kid][kid] then the JWKS body.
pub fn jwks(data: &[u8]) {
    let mut input = Input(data);
    let allowed = allowlist(input.byte());
    let alg = TABLE[usize::from(input.byte()) % TABLE.len()].alg;
    let kid_len = input.byte();
    let kid = if kid_len == 255 {
        None
    } else {
        Some(String::from_utf8_lossy(input.take(usize::from(kid_len))).into_owned())
    };
    let body = input.rest();
    let Ok(keys) = parse_jwks(body, &allowed) else {
        return;
    };
    let doc: Json = serde_json::from_slice(body).expect("a parsed JWKS is JSON");
    if !pending("jwks-array-as-object") {
        // RFC 7517 §5: a JWK Set is a JSON object, and each key in it is one too.
        let members = doc["keys"]
            .as_array()
            .expect("a JWKS that is not an object with keys parsed");
        let objects = members.iter().filter(|k| k.is_object()).count();
        assert!(
            keys.len() <= objects,
            "a JWK that is not an object was kept"
        );
    }

    for key in &keys {
        // A key serves only allowed algorithms, never HS256 (a JWKS is public).
        let serves: Vec<Algorithm> = TABLE
            .iter()
            .map(|s| s.alg)
            .filter(|a| key.serves(*a))
            .collect();
        assert!(!serves.is_empty(), "a key that serves nothing was kept");
        for a in &serves {
            assert!(
                allowed.contains(a),
                "key serves {a:?} outside the allowlist"
            );
            assert!(!a.uses_secret(), "a JWK serves an HMAC algorithm");
        }
        // The import form holds key material only, and parses back to the same key.
        let import = key.import_jwk();
        let members: Vec<&str> = import
            .as_object()
            .expect("import JWK is an object")
            .keys()
            .map(String::as_str)
            .collect();
        for m in &members {
            assert!(
                ["kty", "crv", "x", "y", "n", "e"].contains(m),
                "import JWK carries {m}"
            );
        }
        assert_eq!(key.fingerprint().as_ref(), import.to_string());
        let mut again = import.clone();
        if let Some(kid) = &key.kid {
            again["kid"] = kid.as_str().into();
        }
        let reparsed = parse_jwks(json!({ "keys": [again] }).to_string().as_bytes(), &allowed)
            .expect("re-encoded JWKS parses");
        assert_eq!(reparsed.len(), 1, "a kept key does not survive re-encoding");
        assert_eq!(reparsed[0].import_jwk(), import);
        assert_eq!(reparsed[0].kid, key.kid);
        for a in &serves {
            // Without the issuer's alg/use/key_ops members it may serve more, never less.
            assert!(reparsed[0].serves(*a));
        }
    }

    // Key selection against an independent reading of the rules.
    let chosen = select_key(&keys, alg, kid.as_deref());
    match kid.as_deref() {
        Some(kid) => {
            let named: Vec<_> = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect();
            match chosen {
                Ok(k) => {
                    assert_eq!(k.kid.as_deref(), Some(kid));
                    assert!(k.serves(alg));
                }
                Err(NoKey::NotFound) => assert!(named.is_empty()),
                Err(NoKey::Mismatch) => {
                    assert!(!named.is_empty() && named.iter().all(|k| !k.serves(alg)))
                }
                Err(NoKey::Ambiguous) => panic!("ambiguous with a kid"),
            }
        }
        None => {
            let fitting = keys.iter().filter(|k| k.serves(alg)).count();
            match chosen {
                Ok(k) => assert!(k.serves(alg) && fitting == 1),
                Err(NoKey::NotFound) => assert_eq!(fitting, 0),
                Err(NoKey::Ambiguous) => assert!(fitting >= 2),
                Err(NoKey::Mismatch) => panic!("mismatch without a kid"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// neon_response: Neon's SQL-over-HTTP replies (src/db/protocol.rs), batch form included

/// Layout: [mode] then the reply body. mode % 3: 0 a single result, 1 a batch of
/// `mode / 3 % 4` statements, 2 an error reply with status 400 or a 5xx.
pub fn neon_response(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let body = input.rest();
    match mode % 3 {
        0 => match parse_single(body) {
            Ok(result) => {
                let again = encode_result(&result).to_string();
                let reparsed = parse_single(again.as_bytes()).expect("re-encoded result parses");
                assert_eq!(reparsed, result, "re-encoded result decodes differently");
                check_cells(&result);
            }
            Err(e) => assert!(matches!(e, DbError::Unavailable(_)), "{e:?}"),
        },
        1 => {
            let expected = usize::from(mode / 3 % 4);
            match parse_batch(body, expected) {
                Ok(results) => {
                    assert_eq!(results.len(), expected);
                    let again =
                        json!({ "results": results.iter().map(encode_result).collect::<Vec<_>>() });
                    let reparsed = parse_batch(again.to_string().as_bytes(), expected)
                        .expect("re-encoded batch parses");
                    assert_eq!(reparsed, results, "re-encoded batch decodes differently");
                    results.iter().for_each(check_cells);
                }
                Err(e) => assert!(matches!(e, DbError::Unavailable(_)), "{e:?}"),
            }
        }
        _ => {
            let status = if mode & 0x80 == 0 {
                400
            } else {
                500 + u16::from(mode & 0x0f)
            };
            match parse_error(status, body) {
                DbError::Sql { .. } => {
                    assert_eq!(status, 400, "a {status} became a statement error");
                    // A statement error needs a body that is JSON to a reader that
                    // skips what it does not use: serde does not check unknown members'
                    // UTF-8 or number ranges (regressions:
                    // neon_error_with_invalid_utf8_in_an_unknown_member,
                    // neon_error_with_an_out_of_range_number_in_an_unknown_member).
                    serde_json::from_slice::<serde::de::IgnoredAny>(body)
                        .expect("SQL error from a body that is not JSON");
                }
                DbError::Unavailable(message) => {
                    assert_eq!(message, format!("SQL endpoint answered HTTP {status}"))
                }
                DbError::Setup(_) => panic!("a reply body claimed a setup error"),
            }
        }
    }
}

/// The wire form of a decoded result: what Neon would have sent for it.
pub fn encode_result(result: &QueryResult) -> Json {
    let fields: Vec<Json> = result
        .columns
        .iter()
        .map(|c| json!({ "name": c.name, "dataTypeID": c.type_oid }))
        .collect();
    let rows: Vec<Json> = result
        .rows
        .iter()
        .map(|row| row.iter().map(encode_value).collect())
        .collect();
    json!({ "command": result.command, "rowCount": result.row_count, "fields": fields, "rows": rows })
}

fn encode_value(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => (if *b { "t" } else { "f" }).into(),
        Value::Int(n) => n.to_string().into(),
        Value::Timestamp(ts) => postgres_text(ts).into(),
        Value::Text(s) => s.as_str().into(),
    }
}

/// Postgres' UTC output for a canonical timestamp.
fn postgres_text(ts: &Timestamp) -> String {
    let s = ts.as_str();
    format!("{} {}+00", &s[..10], &s[11..26])
}

fn check_cells(result: &QueryResult) {
    for row in &result.rows {
        assert_eq!(row.len(), result.columns.len());
        for cell in row {
            if let Value::Timestamp(ts) = cell {
                check_canonical_timestamp(ts);
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// timestamp: Postgres' timestamptz text and the canonical form (cursors)

pub fn timestamp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ts) = Timestamp::from_postgres(text) {
        check_canonical_timestamp(&ts);
    }
    if let Some(ts) = Timestamp::parse_canonical(text) {
        assert_eq!(ts.as_str(), text, "canonical parse changed the text");
        check_canonical_timestamp(&ts);
    }
}

fn check_canonical_timestamp(ts: &Timestamp) {
    assert_eq!(
        Timestamp::parse_canonical(ts.as_str()).as_ref(),
        Some(ts),
        "{} is not canonical",
        ts.as_str()
    );
    assert_eq!(
        Timestamp::from_postgres(&postgres_text(ts)).as_ref(),
        Some(ts),
        "{} does not survive Postgres' text form",
        ts.as_str()
    );
}

// ---------------------------------------------------------------------------------
// conditional: If-Match, If-None-Match and Idempotency-Key headers

/// Layout: the header value. Invariants: malformed is a 400 naming the header (never
/// a panic); a strong tag matches exactly the version it names, a weak one never does
/// under If-Match and always does under If-None-Match; the condition travels as a
/// Postgres array literal of plain integers; an accepted key is 1–255 visible ASCII.
pub fn conditional(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    match if_match(Some(value)) {
        Ok(Some(IfMatch::Any)) => assert_eq!(value.trim_matches([' ', '\t']), "*"),
        Ok(Some(IfMatch::Versions(versions))) => {
            for v in &versions {
                assert!(*v >= 0, "negative version {v}");
                assert!(
                    value.contains(&etag(*v)),
                    "{v} not named strongly in {value:?}"
                );
            }
            let param = versions_param(Some(&IfMatch::Versions(versions.clone()))).unwrap();
            let inner = param
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .unwrap();
            assert!(
                inner.is_empty() || inner.split(',').all(|n| n.parse::<i64>().is_ok()),
                "{param}"
            );
        }
        Ok(None) => assert!(
            value.trim_matches([' ', '\t']).is_empty(),
            "{value:?} ignored"
        ),
        Err(ApiError::BadRequest(detail)) => assert!(detail.contains("If-Match")),
        Err(other) => panic!("If-Match {value:?}: {other:?}"),
    }
    match if_none_match(Some(value)) {
        Ok(Some(IfNoneMatch::Versions(versions))) => {
            for v in versions {
                assert!(value.contains(&etag(v)), "{v} not named in {value:?}");
            }
        }
        Ok(Some(IfNoneMatch::Any)) => assert_eq!(value.trim_matches([' ', '\t']), "*"),
        Ok(None) => assert!(
            value.trim_matches([' ', '\t']).is_empty(),
            "{value:?} ignored"
        ),
        Err(ApiError::BadRequest(detail)) => assert!(detail.contains("If-None-Match")),
        Err(other) => panic!("If-None-Match {value:?}: {other:?}"),
    }
    match idempotency_key(Some(value)) {
        Ok(Some(key)) => {
            assert_eq!(key, value);
            assert!((1..=255).contains(&key.len()));
            assert!(key.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        }
        Ok(None) => unreachable!(),
        Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "Idempotency-Key"),
        Err(other) => panic!("Idempotency-Key {value:?}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// task_body: request bodies and task ids (docs/api.md input rules)

/// Layout: [selector] then the body. selector % 3 picks the body need (none, object,
/// optional object), selector / 3 % 3 the Content-Type (JSON, none, text/plain).
pub fn task_body(data: &[u8]) {
    let mut input = Input(data);
    let sel = input.byte();
    let need = [BodyNeed::None, BodyNeed::Object, BodyNeed::OptionalObject][usize::from(sel % 3)];
    let content_type = [
        Some("application/json; charset=utf-8"),
        None,
        Some("text/plain"),
    ][usize::from(sel / 3 % 3)];
    let body = input.rest();

    if let Ok(text) = std::str::from_utf8(body) {
        if let Some(id) = parse_task_id(text) {
            assert!(id >= 1);
            assert_eq!(id.to_string(), text, "a non-canonical task id was accepted");
        }
    }

    match body_object(need, content_type, body) {
        Ok(None) => {
            assert!(need == BodyNeed::None || (need == BodyNeed::OptionalObject && body.is_empty()))
        }
        Ok(Some(map)) => {
            assert!(need != BodyNeed::None);
            assert!(content_type.is_some_and(|c| c.starts_with("application/json")));
            check_body(map);
        }
        Err(e) => assert!(
            matches!(
                e,
                ApiError::BadRequest(_) | ApiError::Validation(_) | ApiError::UnsupportedMediaType
            ),
            "{e:?}"
        ),
    }
}

fn check_body(map: Map<String, Json>) {
    let keys: Vec<String> = map.keys().cloned().collect();
    let names_ok = |e: ApiError| match e {
        ApiError::Validation(errors) => {
            assert!(!errors.is_empty(), "an empty 422");
            for e in errors {
                assert!(
                    ["title", "description", "completed", "body"].contains(&e.field.as_str())
                        || keys.contains(&e.field),
                    "422 names {:?}",
                    e.field
                );
                assert!(!e.message.is_empty());
            }
        }
        other => panic!("body rules answered {other:?}"),
    };

    match new_task(map.clone()) {
        Ok(t) => check_whole(&t),
        Err(e) => names_ok(e),
    }
    match replacement(map.clone()) {
        Ok(t) => {
            check_whole(&t);
            assert!(map.contains_key("description") && map.contains_key("completed"));
        }
        Err(e) => names_ok(e),
    }
    match patch(map.clone()) {
        Ok(p) => {
            assert!(p.title.is_some() || p.description.is_some() || p.completed.is_some());
            let mut again = Map::new();
            if let Some(t) = &p.title {
                check_title(t);
                again.insert("title".into(), t.as_str().into());
            }
            if let Some(d) = &p.description {
                if let Some(d) = d {
                    check_description(d);
                }
                again.insert("description".into(), json!(d));
            }
            if let Some(c) = p.completed {
                again.insert("completed".into(), c.into());
            }
            assert_eq!(
                patch(again),
                Ok(p),
                "an accepted patch does not re-validate to itself"
            );
        }
        Err(e) => names_ok(e),
    }
    match completion(map.clone()) {
        Ok(b) => assert_eq!(map, json!({ "completed": b }).as_object().cloned().unwrap()),
        Err(e) => names_ok(e),
    }
}

fn check_title(t: &str) {
    assert_eq!(t, t.trim(), "title not trimmed");
    assert!(!t.is_empty() && t.chars().count() <= MAX_TITLE_CHARS);
    assert!(!t.contains('\0'));
}

fn check_description(d: &str) {
    assert!(d.chars().count() <= MAX_DESCRIPTION_CHARS);
    assert!(!d.contains('\0'));
}

/// An accepted task is canonical: written back as a full body, it validates to itself.
fn check_whole(t: &NewTask) {
    check_title(&t.title);
    if let Some(d) = &t.description {
        check_description(d);
    }
    let again = json!({ "title": t.title, "description": t.description, "completed": t.completed });
    assert_eq!(
        replacement(again.as_object().cloned().unwrap()).as_ref(),
        Ok(t),
        "an accepted task does not re-validate to itself"
    );
}

// ---------------------------------------------------------------------------------
// list_query: the list query string, the keyset cursor and the next-page Link

/// Layout: [mode] then the query string; with mode bit 0 set, the rest is
/// `<query string>\n<cursor JSON>` and the cursor is base64url-encoded here, so the
/// fuzzer mutates the cursor's JSON directly rather than its base64.
pub fn list_query(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.byte();
    let Ok(text) = std::str::from_utf8(input.rest()) else {
        return;
    };
    let built;
    let qs = match text.split_once('\n') {
        Some((head, cursor)) if mode & 1 == 1 => {
            built = format!("{head}&cursor={}", b64(cursor.as_bytes()));
            built.as_str()
        }
        _ => text,
    };
    let q = match parse_list_query(Some(qs)) {
        Ok(q) => q,
        Err(ApiError::Validation(errors)) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(
                    ["status", "sort", "order", "q", "limit", "cursor"].contains(&e.field.as_str()),
                    "422 names {:?}",
                    e.field
                );
            }
            return;
        }
        Err(other) => panic!("list query answered {other:?}"),
    };
    assert!((1..=MAX_LIMIT).contains(&q.limit));
    if let Some(s) = &q.search {
        assert!(!s.is_empty() && s.chars().count() <= MAX_SEARCH_CHARS && !s.contains('\0'));
    }

    if let Some(after) = &q.after {
        assert!(after.id >= 1);
        // The cursor the client sent is exactly the one this position encodes to.
        let raw: Vec<String> = url::form_urlencoded::parse(qs.as_bytes())
            .filter(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(raw.len(), 1);
        let again = encode_cursor(&q, &task_at(&q, &after.value, after.id));
        if !pending("cursor-not-canonical") {
            assert_eq!(
                again, raw[0],
                "a cursor that does not round-trip was accepted"
            );
        }
        // Whatever was sent, the position it names re-encodes to a cursor for the same
        // position.
        let reread = parse_list_query(Some(&format!(
            "sort={}&order={}&cursor={again}",
            q.sort.as_str(),
            q.order.as_str()
        )))
        .expect("a re-encoded cursor is refused");
        assert_eq!(reread.after.as_ref(), Some(after));
    }

    // The next-page Link, read back, asks for the same list.
    let cursor = encode_cursor(&q, &task_at(&q, "", 1));
    let link = next_link("/api/tasks", &q, &cursor);
    let target = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .expect("Link shape");
    let (path, query) = target.split_once('?').expect("Link has a query");
    assert_eq!(path, "/api/tasks");
    let next = parse_list_query(Some(query)).expect("the Link's own query is refused");
    let without_position = |q: &ListQuery| ListQuery {
        after: None,
        ..q.clone()
    };
    assert_eq!(without_position(&next), without_position(&q));
    assert_eq!(next.after.map(|a| a.id), Some(1));
}

/// A task whose sort value is `value` (a time sort needs a real timestamp: any
/// accepted cursor holds one; for the synthetic Link cursor a fixed one is used).
fn task_at(q: &ListQuery, value: &str, id: i64) -> Task {
    let fixed = Timestamp::parse_canonical("2026-11-26T11:08:51.123456Z").unwrap();
    let at = Timestamp::parse_canonical(value).unwrap_or_else(|| fixed.clone());
    let (created_at, updated_at, title) = match q.sort {
        SortColumn::CreatedAt => (at, fixed, "t".to_string()),
        SortColumn::UpdatedAt => (fixed.clone(), at, "t".to_string()),
        SortColumn::Title => (fixed.clone(), fixed, value.to_string()),
    };
    Task {
        id,
        user_id: "u".into(),
        title,
        description: None,
        completed: false,
        version: 1,
        created_at,
        updated_at,
    }
}

// ---------------------------------------------------------------------------------
// route: the route table and the URL helpers

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "get",
];

/// Layout: [method index] then the path.
pub fn route(data: &[u8]) {
    let mut input = Input(data);
    let method = METHODS[usize::from(input.byte()) % METHODS.len()];
    let Ok(path) = std::str::from_utf8(input.rest()) else {
        return;
    };

    // URL helpers: the path and query are pieces of the URL, split at the right places.
    let url = format!("https://api.example.test{path}");
    let p = routes::path_of(&url);
    assert!(
        p.starts_with('/') && !p.contains(['?', '#']),
        "path_of gave {p:?}"
    );
    assert!(p == "/" || url.contains(p));
    if let Some(q) = routes::query_of(&url) {
        assert!(url.contains(&format!("?{q}")) && !q.contains('#'));
    }

    let first = RESOURCES
        .iter()
        .find_map(|r| oracle_match(r.pattern, path).map(|m| (r, m)));
    match (routes::resolve(method, path), first) {
        (Ok(m), Some((resource, (user_id, task_id)))) => {
            assert_eq!(m.pattern, resource.pattern);
            assert_eq!((m.user_id, m.task_id), (user_id, task_id));
            let op = resource
                .ops
                .iter()
                .find(|(mm, _)| *mm == method)
                .map(|(_, o)| *o);
            assert_eq!(Some(m.op), op);
        }
        (Err(RouteError::NotFound), None) => {}
        (Err(RouteError::MethodNotAllowed { pattern, allow }), Some((resource, _))) => {
            assert_eq!(pattern, resource.pattern);
            assert!(resource.ops.iter().all(|(m, _)| *m != method));
            assert_eq!(allow, resource.allow());
        }
        (got, oracle) => panic!(
            "router and oracle disagree on {method} {path:?}: {got:?} vs {:?}",
            oracle.map(|(r, _)| r.pattern)
        ),
    }
}

/// An independent reading of a template: same number of non-empty segments, literals
/// equal, `{user_id}` percent-decoded to UTF-8, `{id}` verbatim.
fn oracle_match<'p>(pattern: &str, path: &'p str) -> Option<(Option<String>, Option<&'p str>)> {
    let rest = path.strip_prefix('/')?;
    let got: Vec<&str> = rest.split('/').collect();
    let want: Vec<&str> = pattern[1..].split('/').collect();
    if got.len() != want.len() || got.iter().any(|s| s.is_empty()) {
        return None;
    }
    let (mut user, mut id) = (None, None);
    for (w, g) in want.iter().zip(&got) {
        match *w {
            "{user_id}" => user = Some(percent_decode(g).and_then(|b| String::from_utf8(b).ok())?),
            "{id}" => id = Some(*g),
            lit if lit == *g => {}
            _ => return None,
        }
    }
    Some((user, id))
}

/// Percent-decoding as the WHATWG URL spec does it: a `%` not followed by two hex
/// digits stays as it is.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Some(out)
}
