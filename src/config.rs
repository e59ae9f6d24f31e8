//! The one configuration loader (docs/configuration.md).
//!
//! Everything is read and validated once per isolate, from a lookup function so the
//! rules run natively under `cargo test`. Any invalid or missing value makes the whole
//! configuration an error: protected routes then fail closed with a 500 instead of
//! guessing (a typo in `AUTH_ISSUER` must not turn into "accept any issuer").

use std::fmt;
use url::Url;

use crate::auth::algorithm::{Algorithm, TABLE};

/// Smallest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as
/// the hash output, and shorter shared secrets are brute-forceable offline.
pub const MIN_HS256_SECRET_BYTES: usize = 32;
pub const DEFAULT_CLOCK_SKEW_SECONDS: u32 = 30;
pub const MAX_CLOCK_SKEW_SECONDS: u32 = 300;
pub const DEFAULT_TASKS_PER_USER_MAX: u32 = 10_000;
pub const MAX_TASKS_PER_USER_MAX: u32 = 1_000_000;
pub const DEFAULT_WRITE_LIMIT_PERIOD_SECONDS: u32 = 60;

/// Variables that hold secrets. Found as plain variables they still work (failing
/// closed over a dashboard detail would take the API down), but plain variables are
/// readable in `wrangler.toml`, the repository and the dashboard, so the log says so.
pub const SECRET_VARIABLES: [&str; 2] = ["DATABASE_URL", "AUTH_JWT_SECRET"];

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Secret,
    PlainVar,
}

/// This project's wrangler.toml, compiled in. Inside workerd a secret and a plain
/// variable are the same kind of string on `env` (workers-rs's `secret()` and `var()`
/// read the same property), so the file that declares the plain ones is the only
/// witness of which is which. A plain variable set only in the dashboard or with
/// `--var` is not seen; `.dev.vars` and `wrangler secret put` count as secrets.
const WRANGLER_TOML: &str = include_str!("../wrangler.toml");

/// The source of `name` as this build's wrangler.toml declares it.
pub fn declared_source(name: &str) -> Source {
    if plain_var_names(WRANGLER_TOML).any(|n| n == name) {
        Source::PlainVar
    } else {
        Source::Secret
    }
}

/// Keys of `[vars]` and `[env.<name>.vars]` tables: a line scan, not a TOML parser,
/// which is enough for `KEY = "value"` lines (a false extra name only ever adds a
/// warning).
fn plain_var_names(toml: &str) -> impl Iterator<Item = &str> {
    let mut in_vars = false;
    toml.lines().filter_map(move |line| {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let table = header.split(']').next().unwrap_or("").trim();
            in_vars = table == "vars" || table.ends_with(".vars");
            return None;
        }
        if !in_vars || line.starts_with('#') {
            return None;
        }
        let (key, _) = line.split_once('=')?;
        Some(key.trim().trim_matches('"'))
    })
}

#[derive(Clone)]
pub struct Config {
    pub auth: AuthConfig,
    pub database: DatabaseConfig,
    pub limits: Limits,
    /// Problems that do not stop the worker (a secret set as a plain variable), for
    /// the adapter to log once per isolate. They name variables, never values.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most tasks one user may hold (docs/configuration.md, "Abuse limits").
    pub tasks_per_user_max: u32,
    /// The `WRITE_LIMITER` binding's period, for `Retry-After` (docs/api.md).
    pub write_limit_period_seconds: u32,
}

#[derive(Clone)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: Option<Url>,
    /// HMAC key for HS256: the UTF-8 bytes of `AUTH_JWT_SECRET`.
    pub hs256_secret: Option<Vec<u8>>,
    pub algorithms: Vec<Algorithm>,
    pub clock_skew_seconds: u32,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// The full connection string; sent to Neon in a header, never logged.
    pub connection_string: String,
    pub sql_endpoint: Url,
}

// Hand-written so that `{:?}` of a config can never print a secret.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_url", &self.jwks_url.as_ref().map(Url::as_str))
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("algorithms", &self.algorithms)
            .field("clock_skew_seconds", &self.clock_skew_seconds)
            .finish()
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("connection_string", &"<redacted>")
            .field("sql_endpoint", &self.sql_endpoint.as_str())
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("auth", &self.auth)
            .field("database", &self.database)
            .field("limits", &self.limits)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Why the configuration was refused. `reason` never quotes a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

impl Config {
    /// Reads every variable through `lookup` (a var or a secret, by name, with where
    /// it came from). Empty or whitespace-only values count as unset.
    pub fn load(lookup: impl Fn(&str) -> Option<(String, Source)>) -> Result<Config, ConfigError> {
        let raw = |name: &str| lookup(name).map(|(value, _)| value);
        let get = |name: &str| {
            raw(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| {
            get(name).ok_or_else(|| ConfigError::new(name, "required but not set"))
        };

        let issuer = required("AUTH_ISSUER")?;
        let audience = required("AUTH_AUDIENCE")?;
        let jwks_url = get("AUTH_JWKS_URL")
            .map(|v| parse_http_url("AUTH_JWKS_URL", &v))
            .transpose()?;
        // The secret is used byte-for-byte: trimming it would silently change the key.
        let hs256_secret = raw("AUTH_JWT_SECRET")
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.len() < MIN_HS256_SECRET_BYTES {
                    Err(ConfigError::new(
                        "AUTH_JWT_SECRET",
                        format!("must be at least {MIN_HS256_SECRET_BYTES} bytes"),
                    ))
                } else {
                    Ok(s.into_bytes())
                }
            })
            .transpose()?;
        if jwks_url.is_none() && hs256_secret.is_none() {
            return Err(ConfigError::new(
                "AUTH_JWKS_URL",
                "set AUTH_JWKS_URL and/or AUTH_JWT_SECRET: no key source is configured",
            ));
        }
        let algorithms = parse_algorithms(
            get("AUTH_ALGORITHMS").as_deref(),
            jwks_url.is_some(),
            hs256_secret.is_some(),
        )?;
        let clock_skew_seconds = parse_integer(
            "AUTH_CLOCK_SKEW_SECONDS",
            get("AUTH_CLOCK_SKEW_SECONDS"),
            DEFAULT_CLOCK_SKEW_SECONDS,
            |s| s <= MAX_CLOCK_SKEW_SECONDS,
            &format!("an integer from 0 to {MAX_CLOCK_SKEW_SECONDS}"),
        )?;

        let connection_string = required("DATABASE_URL")?;
        let sql_endpoint = match get("NEON_SQL_ENDPOINT") {
            Some(v) => parse_http_url("NEON_SQL_ENDPOINT", &v)?,
            None => derive_sql_endpoint(&connection_string)?,
        };
        // Validated even when the endpoint is given, so a broken secret shows up at
        // start-up rather than as a confusing database error later.
        parse_connection_string(&connection_string)?;

        // Kept apart (every route needs it, so the adapter reads it on its own), but a
        // broken list is a broken configuration here too.
        cors_allowed_origins(&lookup)?;
        let limits = Limits {
            // Zero would refuse every create; a huge cap is no cap (finding: unbounded
            // storage per account), so both ends are configuration mistakes.
            tasks_per_user_max: parse_integer(
                "TASKS_PER_USER_MAX",
                get("TASKS_PER_USER_MAX"),
                DEFAULT_TASKS_PER_USER_MAX,
                |n| (1..=MAX_TASKS_PER_USER_MAX).contains(&n),
                &format!("an integer from 1 to {MAX_TASKS_PER_USER_MAX}"),
            )?,
            // The binding only offers these periods; another value would make
            // `Retry-After` lie to clients.
            write_limit_period_seconds: parse_integer(
                "WRITE_LIMIT_PERIOD_SECONDS",
                get("WRITE_LIMIT_PERIOD_SECONDS"),
                DEFAULT_WRITE_LIMIT_PERIOD_SECONDS,
                |p| p == 10 || p == 60,
                "10 or 60",
            )?,
        };
        let warnings = SECRET_VARIABLES
            .iter()
            .filter(
                |name| matches!(lookup(name), Some((v, Source::PlainVar)) if !v.trim().is_empty()),
            )
            .map(|name| {
                format!(
                    "{name} is set as a plain variable, readable in the dashboard and \
                     wrangler.toml; set it with `wrangler secret put {name}`"
                )
            })
            .collect();

        Ok(Config {
            auth: AuthConfig {
                issuer,
                audience,
                jwks_url,
                hs256_secret,
                algorithms,
                clock_skew_seconds,
            },
            database: DatabaseConfig {
                connection_string,
                sql_endpoint,
            },
            limits,
            warnings,
        })
    }
}

/// An unsigned integer variable: absent means `default`; anything else must parse and
/// pass `valid`, or the configuration fails closed naming the variable.
fn parse_integer(
    variable: &'static str,
    value: Option<String>,
    default: u32,
    valid: impl Fn(u32) -> bool,
    expected: &str,
) -> Result<u32, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| valid(*n))
            .ok_or_else(|| ConfigError::new(variable, format!("must be {expected}"))),
    }
}

/// An `https://` URL, or `http://` to a loopback host for local development. Plain
/// HTTP anywhere else would send the database password in clear on every request
/// (`NEON_SQL_ENDPOINT`) or let anyone on the path swap the issuer's keys and mint
/// tokens (`AUTH_JWKS_URL`), so a dev value copied into production fails closed.
fn parse_http_url(variable: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| ConfigError::new(variable, "not a valid URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => {
            return Err(ConfigError::new(
                variable,
                "must be an https URL with a host",
            ))
        }
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(ConfigError::new(
            variable,
            "must be https (http only for 127.0.0.0/8, [::1] or localhost)",
        )),
    }
}

/// With no explicit list, every algorithm whose key source is configured is allowed.
/// An explicit list may only name algorithms that can actually be verified: HS256
/// without a secret, or an asymmetric algorithm without a JWKS, is a configuration
/// mistake and fails closed instead of being silently dropped.
fn parse_algorithms(
    value: Option<&str>,
    has_jwks: bool,
    has_secret: bool,
) -> Result<Vec<Algorithm>, ConfigError> {
    const VAR: &str = "AUTH_ALGORITHMS";
    let Some(value) = value else {
        let configured = |alg: &Algorithm| {
            if alg.uses_secret() {
                has_secret
            } else {
                has_jwks
            }
        };
        return Ok(TABLE.iter().map(|s| s.alg).filter(configured).collect());
    };
    let mut algs = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let alg = Algorithm::from_jose(name)
            .ok_or_else(|| ConfigError::new(VAR, format!("unsupported algorithm {name:?}")))?;
        if alg.uses_secret() && !has_secret {
            return Err(ConfigError::new(
                VAR,
                format!("{name} needs AUTH_JWT_SECRET"),
            ));
        }
        if !alg.uses_secret() && !has_jwks {
            return Err(ConfigError::new(VAR, format!("{name} needs AUTH_JWKS_URL")));
        }
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(ConfigError::new(VAR, "lists no algorithm"));
    }
    Ok(algs)
}

/// Accepts what Neon's driver accepts: a `postgres:` or `postgresql:` URL with a user,
/// a host and a database.
fn parse_connection_string(value: &str) -> Result<Url, ConfigError> {
    const VAR: &str = "DATABASE_URL";
    // Never echo the value: it holds the database password.
    let url = Url::parse(value).map_err(|_| ConfigError::new(VAR, "not a valid URL"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::new(
            VAR,
            "scheme must be postgres: or postgresql:",
        ));
    }
    let host = url.host_str().unwrap_or("");
    if url.username().is_empty() || host.is_empty() || url.path().len() <= 1 {
        return Err(ConfigError::new(VAR, "needs a user, a host and a database"));
    }
    Ok(url)
}

/// The SQL-over-HTTP endpoint, derived as Neon's own driver does: the first DNS label
/// of the host becomes `api` (`ep-x-123.eu-central-1.aws.neon.tech` →
/// `https://api.eu-central-1.aws.neon.tech/sql`); the port is ignored.
pub fn derive_sql_endpoint(connection_string: &str) -> Result<Url, ConfigError> {
    let url = parse_connection_string(connection_string)?;
    let host = url.host_str().unwrap_or("");
    let derived = match host.split_once('.') {
        Some((_, rest)) => format!("api.{rest}"),
        None => host.to_string(),
    };
    Url::parse(&format!("https://{derived}/sql"))
        .map_err(|_| ConfigError::new("DATABASE_URL", "host cannot form an endpoint URL"))
}

/// `CORS_ALLOWED_ORIGINS`: the exact origins (`scheme://host[:port]`) allowed to call
/// the API from a browser. Read on its own, since public routes need it and nothing
/// else; `Config::load` checks it too, so an invalid list also fails protected routes.
pub fn cors_allowed_origins(
    lookup: impl Fn(&str) -> Option<(String, Source)>,
) -> Result<Vec<String>, ConfigError> {
    match lookup("CORS_ALLOWED_ORIGINS").map(|(v, _)| v) {
        Some(v) if !v.trim().is_empty() => parse_origins(v.trim()),
        _ => Ok(Vec::new()),
    }
}

fn parse_origins(value: &str) -> Result<Vec<String>, ConfigError> {
    const VAR: &str = "CORS_ALLOWED_ORIGINS";
    let mut origins = Vec::new();
    for raw in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let url = Url::parse(raw)
            .map_err(|_| ConfigError::new(VAR, format!("{raw:?} is not an origin")))?;
        let origin = url.origin().ascii_serialization();
        // An origin has no path, query or trailing slash; comparing against anything
        // else would never match a browser's `Origin` header.
        if origin == "null" || origin != raw {
            return Err(ConfigError::new(
                VAR,
                format!("{raw:?} is not an exact origin like https://app.example.com"),
            ));
        }
        origins.push(origin);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("AUTH_ISSUER", "https://auth.example.com".to_string()),
            ("AUTH_AUDIENCE", "https://auth.example.com".to_string()),
            (
                "AUTH_JWKS_URL",
                "https://auth.example.com/api/auth/jwks".to_string(),
            ),
            (
                "DATABASE_URL",
                "postgresql://alex:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/dbname?sslmode=require"
                    .to_string(),
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::load(|name| vars.get(name).map(|v| (v.clone(), Source::Secret)))
    }

    fn cors(vars: &HashMap<&'static str, String>) -> Result<Vec<String>, ConfigError> {
        cors_allowed_origins(|name| vars.get(name).map(|v| (v.clone(), Source::PlainVar)))
    }

    #[test]
    fn defaults() {
        let cfg = load(&base()).unwrap();
        assert_eq!(cfg.auth.algorithms, Algorithm::ASYMMETRIC.to_vec());
        assert_eq!(cfg.auth.clock_skew_seconds, 30);
        assert!(cors(&base()).unwrap().is_empty());
        assert_eq!(
            cfg.database.sql_endpoint.as_str(),
            "https://api.us-east-2.aws.neon.tech/sql"
        );
    }

    #[test]
    fn endpoint_derivation_matches_neon_driver() {
        let derive = |s: &str| derive_sql_endpoint(s).unwrap().to_string();
        assert_eq!(
            derive("postgres://u:p@ep-a-b.eu-central-1.aws.neon.tech:5432/db"),
            "https://api.eu-central-1.aws.neon.tech/sql"
        );
        assert_eq!(
            derive("postgresql://u:p@ep-x-pooler.c-2.us-east-1.aws.neon.tech/neondb"),
            "https://api.c-2.us-east-1.aws.neon.tech/sql"
        );
        assert_eq!(derive("postgres://u@localhost/db"), "https://localhost/sql");
    }

    #[test]
    fn explicit_endpoint_wins() {
        let mut vars = base();
        vars.insert("NEON_SQL_ENDPOINT", "http://127.0.0.1:4444/sql".into());
        let cfg = load(&vars).unwrap();
        assert_eq!(
            cfg.database.sql_endpoint.as_str(),
            "http://127.0.0.1:4444/sql"
        );
    }

    #[test]
    fn missing_required_values_name_the_variable() {
        for name in ["AUTH_ISSUER", "AUTH_AUDIENCE", "DATABASE_URL"] {
            let mut vars = base();
            vars.remove(name);
            assert_eq!(load(&vars).unwrap_err().variable, name);
            vars.insert(name, "   ".into());
            assert_eq!(load(&vars).unwrap_err().variable, name);
        }
    }

    #[test]
    fn needs_a_key_source() {
        let mut vars = base();
        vars.remove("AUTH_JWKS_URL");
        assert_eq!(load(&vars).unwrap_err().variable, "AUTH_JWKS_URL");
        vars.insert("AUTH_JWT_SECRET", SECRET.into());
        assert_eq!(load(&vars).unwrap().auth.algorithms, vec![Algorithm::Hs256]);
    }

    #[test]
    fn hs256_only_with_a_long_enough_secret() {
        let mut vars = base();
        vars.insert("AUTH_JWT_SECRET", "short".into());
        assert_eq!(load(&vars).unwrap_err().variable, "AUTH_JWT_SECRET");
        vars.insert("AUTH_JWT_SECRET", SECRET.into());
        let cfg = load(&vars).unwrap();
        assert!(cfg.auth.algorithms.contains(&Algorithm::Hs256));
        assert_eq!(cfg.auth.hs256_secret.as_deref(), Some(SECRET.as_bytes()));

        let mut vars = base();
        vars.insert("AUTH_ALGORITHMS", "EdDSA,HS256".into());
        let err = load(&vars).unwrap_err();
        assert_eq!(err.variable, "AUTH_ALGORITHMS");
    }

    #[test]
    fn algorithm_list_is_exact() {
        let mut vars = base();
        for bad in ["none", "eddsa", "HS512", "ES256,RS384", ","] {
            vars.insert("AUTH_ALGORITHMS", bad.into());
            assert_eq!(
                load(&vars).unwrap_err().variable,
                "AUTH_ALGORITHMS",
                "{bad}"
            );
        }
        vars.insert("AUTH_ALGORITHMS", " ES256 , EdDSA,ES256".into());
        assert_eq!(
            load(&vars).unwrap().auth.algorithms,
            vec![Algorithm::Es256, Algorithm::EdDsa]
        );
    }

    #[test]
    fn clock_skew_bounds() {
        let mut vars = base();
        for (value, ok) in [
            ("0", true),
            ("300", true),
            ("301", false),
            ("-1", false),
            ("x", false),
        ] {
            vars.insert("AUTH_CLOCK_SKEW_SECONDS", value.into());
            assert_eq!(load(&vars).is_ok(), ok, "{value}");
        }
    }

    #[test]
    fn bad_connection_strings_are_refused_without_echoing_them() {
        let mut vars = base();
        for bad in [
            "mysql://u:secretpw@h/db",
            "postgresql://u:secretpw@h",
            "postgresql://:secretpw@h/db",
            "not a url secretpw",
        ] {
            vars.insert("DATABASE_URL", bad.into());
            let err = load(&vars).unwrap_err();
            assert_eq!(err.variable, "DATABASE_URL", "{bad}");
            assert!(!err.reason.contains("secretpw"));
        }
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut vars = base();
        vars.insert("AUTH_JWT_SECRET", SECRET.into());
        let printed = format!("{:?}", load(&vars).unwrap());
        assert!(!printed.contains(SECRET));
        assert!(!printed.contains(":pw@"));
    }

    #[test]
    fn cors_origins_must_be_exact() {
        let mut vars = base();
        vars.insert(
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000".into(),
        );
        assert_eq!(
            cors(&vars).unwrap(),
            vec!["https://app.example.com", "http://localhost:3000"]
        );
        for bad in [
            "https://app.example.com/",
            "*",
            "app.example.com",
            "https://a.com/path",
        ] {
            vars.insert("CORS_ALLOWED_ORIGINS", bad.into());
            assert_eq!(
                cors(&vars).unwrap_err().variable,
                "CORS_ALLOWED_ORIGINS",
                "{bad}"
            );
            // The rest of the configuration fails with it (protected routes answer 500).
            assert_eq!(
                load(&vars).unwrap_err().variable,
                "CORS_ALLOWED_ORIGINS",
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_must_be_https_except_loopback() {
        for var in ["AUTH_JWKS_URL", "NEON_SQL_ENDPOINT"] {
            for ok in [
                "https://auth.example.com/jwks",
                "http://127.0.0.1:4444/x",
                "http://127.9.9.9/x",
                "http://[::1]:8080/x",
                "http://localhost:3000/x",
                "http://LOCALHOST/x",
            ] {
                let mut vars = base();
                vars.insert(var, ok.into());
                assert!(load(&vars).is_ok(), "{var}={ok}");
            }
            for bad in [
                "http://auth.example.com/jwks",
                "http://10.0.0.1/x",
                "http://128.0.0.1/x",
                "http://[::2]/x",
                "http://localhost.evil.com/x",
                "http://foo.localhost/x",
                "ftp://localhost/x",
                "file:///etc/passwd",
                "https://",
                "not a url",
            ] {
                let mut vars = base();
                vars.insert(var, bad.into());
                assert_eq!(load(&vars).unwrap_err().variable, var, "{var}={bad}");
            }
        }
    }

    #[test]
    fn tasks_per_user_max() {
        assert_eq!(load(&base()).unwrap().limits.tasks_per_user_max, 10_000);
        let mut vars = base();
        for (value, expected) in [
            ("1", Some(1)),
            ("1000000", Some(1_000_000)),
            (" 250 ", Some(250)),
        ] {
            vars.insert("TASKS_PER_USER_MAX", value.into());
            assert_eq!(
                load(&vars).ok().map(|c| c.limits.tasks_per_user_max),
                expected,
                "{value}"
            );
        }
        for bad in ["0", "1000001", "-1", "1e4", "10k", "4294967296", "ten"] {
            vars.insert("TASKS_PER_USER_MAX", bad.into());
            assert_eq!(
                load(&vars).unwrap_err().variable,
                "TASKS_PER_USER_MAX",
                "{bad}"
            );
        }
    }

    #[test]
    fn write_limit_period() {
        assert_eq!(load(&base()).unwrap().limits.write_limit_period_seconds, 60);
        let mut vars = base();
        for ok in [10, 60] {
            vars.insert("WRITE_LIMIT_PERIOD_SECONDS", ok.to_string());
            assert_eq!(load(&vars).unwrap().limits.write_limit_period_seconds, ok);
        }
        for bad in ["30", "0", "600", "60s", "", "x"] {
            vars.insert("WRITE_LIMIT_PERIOD_SECONDS", bad.into());
            let got = load(&vars);
            if bad.is_empty() {
                // Empty counts as unset, like every other variable.
                assert_eq!(got.unwrap().limits.write_limit_period_seconds, 60);
            } else {
                assert_eq!(
                    got.unwrap_err().variable,
                    "WRITE_LIMIT_PERIOD_SECONDS",
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn secrets_found_as_plain_vars_work_but_warn_by_name_only() {
        let mut vars = base();
        vars.insert("AUTH_JWT_SECRET", SECRET.into());
        let plain = |name: &str| {
            vars.get(name).map(|v| {
                let source = if name == "AUTH_ISSUER" || SECRET_VARIABLES.contains(&name) {
                    Source::PlainVar
                } else {
                    Source::Secret
                };
                (v.clone(), source)
            })
        };
        let cfg = Config::load(plain).unwrap();
        assert_eq!(cfg.auth.hs256_secret.as_deref(), Some(SECRET.as_bytes()));
        assert_eq!(cfg.warnings.len(), 2, "{:?}", cfg.warnings);
        assert!(cfg.warnings[0].starts_with("DATABASE_URL "));
        assert!(cfg.warnings[1].starts_with("AUTH_JWT_SECRET "));
        for w in &cfg.warnings {
            assert!(!w.contains(SECRET) && !w.contains(":pw@"), "{w}");
        }
        // As secrets: no warning.
        assert!(load(&vars).unwrap().warnings.is_empty());
    }

    #[test]
    fn plain_vars_are_read_from_vars_tables() {
        let toml = r#"
name = "x"
DATABASE_URL = "top-level key, not a var"
[vars]
AUTH_ISSUER = "https://a"
# DATABASE_URL = "commented out"
"CORS_ALLOWED_ORIGINS" = ""
[env.production.vars]
AUTH_JWT_SECRET = "oops"
[[d1_databases]]
DATABASE_URL = "not a var"
"#;
        let names: Vec<&str> = plain_var_names(toml).collect();
        assert_eq!(
            names,
            ["AUTH_ISSUER", "CORS_ALLOWED_ORIGINS", "AUTH_JWT_SECRET"]
        );
        // This project's own file declares no secret as a plain variable.
        assert_eq!(declared_source("AUTH_ISSUER"), Source::PlainVar);
        for name in SECRET_VARIABLES {
            assert_eq!(declared_source(name), Source::Secret, "{name}");
        }
    }
}
