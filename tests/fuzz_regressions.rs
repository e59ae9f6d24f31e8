//! The fuzz targets' invariants (fuzz/src/lib.rs) as native tests: every committed
//! seed is replayed, and every input the fuzzer ever crashed on is a test of its own,
//! named after what it found. `cargo test` runs them; no fuzzer or nightly needed.
//!
//! A new crash: copy the artifact's bytes (printed as `Base64:` by libFuzzer, or
//! `xxd -p fuzz/artifacts/<target>/crash-…`) into a new `#[test]` below, fix the cause
//! (in src/, or in the invariant if the invariant was wrong), and say which in its
//! comment.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz;

use std::path::Path;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn run(target: &str, data: &[u8]) {
    match target {
        "token" => fuzz::token(data),
        "claims" => fuzz::claims(data),
        "jwks" => fuzz::jwks(data),
        "neon_response" => fuzz::neon_response(data),
        "timestamp" => fuzz::timestamp(data),
        "task_body" => fuzz::task_body(data),
        "list_query" => fuzz::list_query(data),
        "conditional" => fuzz::conditional(data),
        "route" => fuzz::route(data),
        other => panic!("no target {other}: add it to run() and fuzz::TARGETS"),
    }
}

#[test]
fn every_seed_holds_every_invariant() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut replayed = 0;
    for target in fuzz::TARGETS {
        let dir = seeds.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| run(target, &data));
            assert!(outcome.is_ok(), "{target}: seed {} fails", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= fuzz::TARGETS.len() * 5, "only {replayed} seeds");
}

#[test]
fn pending_findings_are_known_names() {
    for name in fuzz::PENDING {
        assert!(
            ["jwks-array-as-object", "cursor-not-canonical"].contains(name),
            "{name}"
        );
    }
}

/// The oracle was wrong, not the worker: Neon's error body names a SQLSTATE, and an
/// unknown member holding invalid UTF-8 is skipped by serde without being validated,
/// which is harmless (the body is only read for `code`, `message`, `constraint`).
#[test]
fn neon_error_with_invalid_utf8_in_an_unknown_member() {
    run(
        "neon_response",
        &hex("027b226d657373616765223a226e657720726f772076696f6c617473747261696e74222c22636f6465223a223233352c3134222c22636f6e73747261692a6e74223a2274ffffffffffffffff61736b735f7469746c655f6c656e677468222c227365766572697479223a224552524f52227d"),
    );
}

/// A JWKS that is a JSON array (`[[[]]]`) parses: serde's derived structs also accept
/// the sequence form, so `{"keys": …}` can be written `[…]`, and a JWK as an array of
/// its members in declaration order. RFC 7517 §5 says a JWK Set is an object. Fix in
/// src/auth/jwk.rs (see docs/resilience.md, "Findings").
#[test]
fn jwks_that_is_an_array_is_refused() {
    run("jwks", &hex("200001355b5b5b5d5d0a0a5d"));
}

/// The oracle was wrong again, the same way: an unknown member holding a number out of
/// f64's range is skipped by serde without being read as a number.
#[test]
fn neon_error_with_an_out_of_range_number_in_an_unknown_member() {
    run(
        "neon_response",
        &hex("027b202022636f6465223a22523233617465645f6174222c2264617461547970654944223a31313238353535353535353535353535353535353535353535353535353535353535303030303030303434653030303030303837363935303932373434303735343931357d0d0d090a0a0d0d0d"),
    );
}

/// Written by hand from the finding the fuzzer's `list_query` layout makes reachable:
/// a cursor whose JSON has its members in another order (or other spacing, or escaped
/// characters) is accepted, so one position has many cursors. A cursor is
/// opaque, and the invariant is that only what `encode_cursor` makes is accepted. Fix
/// in src/tasks/listing.rs (docs/resilience.md, "Findings").
#[test]
fn cursor_with_reordered_members_is_refused() {
    let json = r#"{"i":9,"s":"created_at","o":"desc","v":"2026-11-26T11:08:51.123456Z"}"#;
    let mut data = vec![1u8];
    data.extend_from_slice(b"\n");
    data.extend_from_slice(json.as_bytes());
    run("list_query", &data);
}
