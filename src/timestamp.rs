//! `Timestamp`: a point in time as the API shows it — RFC 3339 in UTC with exactly six
//! fraction digits (`2026-11-26T11:08:51.123456Z`).
//!
//! One fixed width means timestamps sort as strings and carry the microseconds that
//! keyset cursors need to resume exactly after a row. Two ways in, both strict:
//! Postgres' `timestamptz` text (whatever the session's time zone) and the canonical
//! form itself (a cursor sent back by a client). Anything else is refused, so a
//! timestamp that reaches SQL is always one Postgres reads the same way.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`
const CANONICAL_LEN: usize = 27;

/// Offsets Postgres prints are within ±15:59:59; anything wider is not one of its
/// outputs, and refusing it keeps the arithmetic below far from overflow.
const MAX_OFFSET_HOURS: i64 = 15;

impl Timestamp {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Only the exact canonical form (what this type prints) is accepted.
    pub fn parse_canonical(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let shape_ok = b.len() == CANONICAL_LEN
            && head_ok(b, b'T')
            && b[19] == b'.'
            && b[26] == b'Z'
            && b[20..26].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return None;
        }
        let fields = Fields::from_digits(text)?;
        fields.valid().then(|| Timestamp(text.to_string()))
    }

    /// Postgres' ISO output (`2026-11-26 11:08:51.5+05:30`), converted to UTC. Infinite
    /// and BC values are refused.
    pub fn from_postgres(text: &str) -> Option<Timestamp> {
        utc_fast_path(text).or_else(|| general_path(text))
    }
}

/// `YYYY-MM-DD?HH:MM:SS` with `sep` between date and time: the 19 bytes both forms
/// start with. Checking digits first keeps `+026` or ` 26` from parsing as numbers.
fn head_ok(b: &[u8], sep: u8) -> bool {
    b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == sep
        && b[13] == b':'
        && b[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Fields {
    /// Reads the fixed positions shared by both forms (`YYYY-MM-DD?HH:MM:SS`).
    fn from_digits(text: &str) -> Option<Fields> {
        let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
        Some(Fields {
            year: i64::from(num(0..4)?),
            month: num(5..7)?,
            day: num(8..10)?,
            hour: i64::from(num(11..13)?),
            minute: i64::from(num(14..16)?),
            second: i64::from(num(17..19)?),
        })
    }

    fn valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && (0..=23).contains(&self.hour)
            && (0..=59).contains(&self.minute)
            && (0..=59).contains(&self.second)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The common case, a UTC session (Neon's default): `YYYY-MM-DD HH:MM:SS[.f]+00` only
/// needs its separators rewritten.
fn utc_fast_path(text: &str) -> Option<Timestamp> {
    let body = text.strip_suffix("+00")?;
    if !head_ok(body.as_bytes(), b' ') {
        return None;
    }
    let fraction = fraction_digits(body.get(19..)?)?;
    Fields::from_digits(body)?
        .valid()
        .then(|| Timestamp(format!("{}T{}.{fraction:0<6}Z", &body[..10], &body[11..19])))
}

/// `""` or `.d{1,6}` → the digits.
fn fraction_digits(text: &str) -> Option<&str> {
    if text.is_empty() {
        return Some("");
    }
    let digits = text.strip_prefix('.')?;
    let ok = (1..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(digits)
}

/// Any other session time zone: apply the printed offset (`+05:30`, `-02`, `+00:19:32`).
fn general_path(text: &str) -> Option<Timestamp> {
    let (date, rest) = text.split_once(' ')?;
    let sign_at = rest.find(['+', '-'])?;
    let (time, offset) = rest.split_at(sign_at);
    let (hms, fraction) = time.split_at(time.find('.').unwrap_or(time.len()));
    let fraction = fraction_digits(fraction)?;
    let head = format!("{date} {hms}");
    if date.len() != 10 || hms.len() != 8 || !head_ok(head.as_bytes(), b' ') {
        return None;
    }
    let fields = Fields::from_digits(&head)?;
    if !fields.valid() {
        return None;
    }

    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut parts = offset.get(1..)?.split(':');
    let mut part = |max: i64| -> Option<i64> {
        match parts.next() {
            None => Some(0),
            Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|v| *v <= max)
            }
            Some(_) => None,
        }
    };
    let (off_h, off_m, off_s) = (part(MAX_OFFSET_HOURS)?, part(59)?, part(59)?);
    if parts.next().is_some() {
        return None;
    }

    let local = days_from_civil(fields.year, fields.month, fields.day) * 86_400
        + fields.hour * 3600
        + fields.minute * 60
        + fields.second;
    let utc = local - sign * (off_h * 3600 + off_m * 60 + off_s);
    let (y, m, d) = civil_from_days(utc.div_euclid(86_400));
    if !(1..=9999).contains(&y) {
        return None;
    }
    let secs = utc.rem_euclid(86_400);
    Some(Timestamp(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{fraction:0<6}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )))
}

// Proleptic Gregorian day counts (the well-known algorithm by Howard Hinnant). Inputs
// are bounded by the checks above (years 1–9999), so nothing here can overflow.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_becomes_utc_rfc3339() {
        let cases = [
            ("2026-11-26 11:08:51+00", "2026-11-26T11:08:51.000000Z"),
            (
                "2026-11-26 11:08:51.123456+00",
                "2026-11-26T11:08:51.123456Z",
            ),
            ("2026-01-01 01:30:00.1+05:30", "2025-12-31T20:00:00.100000Z"),
            ("2024-02-28 23:00:00-02", "2024-02-29T01:00:00.000000Z"),
            (
                "1900-03-01 00:00:00+00:19:32",
                "1900-02-28T23:40:28.000000Z",
            ),
        ];
        for (pg, want) in cases {
            assert_eq!(
                Timestamp::from_postgres(pg).as_ref().map(Timestamp::as_str),
                Some(want),
                "{pg}"
            );
        }
    }

    #[test]
    fn postgres_text_out_of_shape_or_range_is_refused() {
        for bad in [
            "infinity",
            "2026-11-26",
            "2026-13-01 00:00:00+00",
            "2026-02-30 00:00:00+00",
            "0001-01-01 00:00:00+00 BC",
            "0000-01-01 00:00:00+00",
            "2026-01-01 00:00:00.1234567+00",
            "2026-01-01 00:00:60+00",
            // Offsets no Postgres prints; the first once overflowed the arithmetic.
            "2026-01-01 00:00:00+3000000000000000:00",
            "2026-01-01 00:00:00+16",
            "2026-01-01 00:00:00+05:60",
            "2026-01-01 00:00:00+5",
            "2026-01-01 00:00:00+05:00:00:00",
            "999999-1-1 23:59:59+00",
        ] {
            assert_eq!(Timestamp::from_postgres(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_form_round_trips_and_nothing_else_is_accepted() {
        let ts = Timestamp::from_postgres("2026-11-26 11:08:51.5+00").unwrap();
        assert_eq!(Timestamp::parse_canonical(ts.as_str()), Some(ts.clone()));
        for bad in [
            "2026-11-26T11:08:51.5Z",
            "2026-11-26T11:08:51.500000+00:00",
            "2026-11-26 11:08:51.500000Z",
            "2026-11-26T11:08:51.500000z",
            "2026-02-29T00:00:00.000000Z",
            "2026-01-01T00:00:00+3000000000000000:Z",
            "999999-1-1T23:59:60Z",
            "2026-01-01T24:00:00.000000Z",
            "+026-01-01T00:00:00.000000Z",
            "",
        ] {
            assert_eq!(Timestamp::parse_canonical(bad), None, "{bad:?}");
        }
        assert!(Timestamp::parse_canonical("2024-02-29T23:59:59.999999Z").is_some());
    }

    #[test]
    fn serializes_as_its_text() {
        let ts = Timestamp::parse_canonical("2026-11-26T11:08:51.000000Z").unwrap();
        assert_eq!(
            serde_json::to_string(&ts).unwrap(),
            "\"2026-11-26T11:08:51.000000Z\""
        );
    }
}
