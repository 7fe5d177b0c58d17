//! Redaction: credentials and personal data are masked in ingest, so no later topic, model or report
//! sees them. Each rule is counted (`medic_stage_events_total{event="redacted.<rule>"}`).
//!
//! One `RegexSet` pass finds which rules can match a text at all; only those rules then rewrite it, so
//! the common case — a line with nothing to hide — costs a single scan.

use regex::{Captures, Regex, RegexSet};
use serde::{Deserialize, Serialize};

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A redaction rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactionRule {
    /// `Authorization: Bearer <token>`.
    BearerToken,
    /// AWS access key ids (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// AWS secret access keys after their usual names.
    AwsSecretAccessKey,
    /// JSON Web Tokens (`eyJ….eyJ….sig`).
    Jwt,
    /// Passwords in URLs (`scheme://user:password@host`).
    UrlPassword,
    /// `password=…`, `api_key: …`, `"token": "…"` and similar key/value secrets.
    SecretKeyValue,
    /// PEM private keys.
    PrivateKey,
    /// Email addresses.
    Email,
    /// IPv4 addresses (off by default: they are often needed to diagnose).
    IpAddress,
}

impl RedactionRule {
    /// The rules on by default: every credential and personal-data rule, not IP addresses.
    pub const DEFAULTS: [RedactionRule; 8] = [
        RedactionRule::PrivateKey,
        RedactionRule::BearerToken,
        RedactionRule::Jwt,
        RedactionRule::AwsAccessKeyId,
        RedactionRule::AwsSecretAccessKey,
        RedactionRule::UrlPassword,
        RedactionRule::SecretKeyValue,
        RedactionRule::Email,
    ];

    /// The counter event of the rule, `redacted.<rule>`.
    #[must_use]
    pub const fn event(self) -> &'static str {
        match self {
            RedactionRule::BearerToken => "redacted.bearer_token",
            RedactionRule::AwsAccessKeyId => "redacted.aws_access_key_id",
            RedactionRule::AwsSecretAccessKey => "redacted.aws_secret_access_key",
            RedactionRule::Jwt => "redacted.jwt",
            RedactionRule::UrlPassword => "redacted.url_password",
            RedactionRule::SecretKeyValue => "redacted.secret_key_value",
            RedactionRule::PrivateKey => "redacted.private_key",
            RedactionRule::Email => "redacted.email",
            RedactionRule::IpAddress => "redacted.ip_address",
        }
    }

    /// The pattern. Capture group `keep` (when present) is kept; the rest of the match is replaced.
    fn pattern(self) -> &'static str {
        match self {
            RedactionRule::BearerToken => r"(?i)(?P<keep>\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*",
            RedactionRule::AwsAccessKeyId => r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
            RedactionRule::AwsSecretAccessKey => {
                r#"(?i)(?P<keep>\b(?:aws_secret_access_key|aws_secret_key|secret_access_key|secretaccesskey)["']?\s*[=:]\s*["']?)[A-Za-z0-9/+]{40}"#
            }
            RedactionRule::Jwt => {
                r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}"
            }
            RedactionRule::UrlPassword => {
                r"(?P<keep>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?:@)"
            }
            RedactionRule::SecretKeyValue => {
                r#"(?i)(?P<keep>["']?\b(?:password|passwd|pwd|secret|client_secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|private[_-]?key)\b["']?\s*[=:]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;&"'}\]]+)"#
            }
            RedactionRule::PrivateKey => {
                r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)"
            }
            RedactionRule::Email => {
                r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
            }
            RedactionRule::IpAddress => {
                r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
            }
        }
    }
}

/// Which rules a source applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionConfig {
    /// Apply redaction at all. Default: true.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// The rules to apply. Default: every rule but `ip_address`.
    #[serde(default = "default_rules")]
    pub rules: Vec<RedactionRule>,
    /// Also mask IPv4 addresses (adds `ip_address`). Default: false.
    #[serde(default)]
    pub ip_addresses: bool,
    /// Fields whose whole value is a secret, whatever it looks like: an attribute whose key (its last
    /// dotted segment, case and `-`/`_` aside) is one of these or ends with `_<one of these>`
    /// (`db_password`, `X-Api-Key`) is masked, counted as `redacted.secret_field`. Default: the usual
    /// credential names (`password`, `secret`, `token`, `api_key`, `authorization`, …).
    #[serde(default = "default_secret_fields")]
    pub secret_fields: Vec<String>,
}

/// The counter event of a masked secret field.
pub const SECRET_FIELD_EVENT: &str = "redacted.secret_field";

fn default_enabled() -> bool {
    true
}
fn default_rules() -> Vec<RedactionRule> {
    RedactionRule::DEFAULTS.to_vec()
}
fn default_secret_fields() -> Vec<String> {
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "authorization",
        "cookie",
        "set_cookie",
        "private_key",
        "secret_access_key",
        "credentials",
    ]
    .map(String::from)
    .to_vec()
}

/// A field key's last dotted segment (`http.header.X-Api-Key` → `X-Api-Key`).
fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A byte of a field name as compared: ASCII lower case, `-` as `_` (other bytes as they are).
fn normalised(byte: u8) -> u8 {
    match byte.to_ascii_lowercase() {
        b'-' => b'_',
        other => other,
    }
}

/// A field name as compared with `secret_fields`: its last dotted segment, each byte [`normalised`].
fn field_name(key: &str) -> String {
    last_segment(key)
        .chars()
        .map(|c| u8::try_from(c).map_or(c, |byte| char::from(normalised(byte))))
        .collect()
}

/// Whether `name`, a field key's [`last_segment`], names the secret field `secret` (a [`field_name`]):
/// as a field name it is `secret`, or ends in `_` and `secret`. Compared a byte at a time, without
/// building the field name: every attribute of every line is checked.
fn names_secret(name: &str, secret: &str) -> bool {
    let name = name.as_bytes();
    let secret = secret.as_bytes();
    let same = |tail: &[u8]| tail.iter().zip(secret).all(|(a, b)| normalised(*a) == *b);
    match name.len().checked_sub(secret.len()) {
        Some(0) => same(name),
        Some(head) => normalised(name[head - 1]) == b'_' && same(&name[head..]),
        None => false,
    }
}

impl Default for RedactionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rules: default_rules(),
            ip_addresses: false,
            secret_fields: default_secret_fields(),
        }
    }
}

/// A compiled set of rules.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<(RedactionRule, Regex)>,
    set: RegexSet,
    secret_fields: Vec<String>,
}

impl Redactor {
    /// Compiles the rules `config` enables (none when disabled).
    ///
    /// # Panics
    /// Never: the patterns are constants covered by tests.
    #[must_use]
    pub fn new(config: &RedactionConfig) -> Self {
        let mut rules: Vec<RedactionRule> = if config.enabled {
            config.rules.clone()
        } else {
            Vec::new()
        };
        if config.enabled && config.ip_addresses {
            rules.push(RedactionRule::IpAddress);
        }
        rules.sort_unstable_by_key(|r| {
            RedactionRule::DEFAULTS
                .iter()
                .position(|d| d == r)
                .unwrap_or(usize::MAX)
        });
        rules.dedup();
        let compiled: Vec<_> = rules
            .iter()
            .map(|r| {
                (
                    *r,
                    Regex::new(r.pattern()).expect("redaction patterns are valid"),
                )
            })
            .collect();
        let set =
            RegexSet::new(rules.iter().map(|r| r.pattern())).expect("redaction patterns are valid");
        let secret_fields = if config.enabled {
            config.secret_fields.iter().map(|f| field_name(f)).collect()
        } else {
            Vec::new()
        };
        Self {
            rules: compiled,
            set,
            secret_fields,
        }
    }

    /// Masks attribute `key`'s `value`: wholly when the key names a secret field, else every secret the
    /// rules find in it; `count(event, n)` as for [`Redactor::redact`].
    pub fn redact_field(
        &self,
        key: &str,
        value: &mut String,
        mut count: impl FnMut(&'static str, u64),
    ) {
        let name = last_segment(key);
        if self.secret_fields.iter().any(|f| names_secret(name, f)) {
            if !value.is_empty() && value != REDACTED {
                *value = REDACTED.to_owned();
                count(SECRET_FIELD_EVENT, 1);
            }
            return;
        }
        self.redact(value, |rule, n| count(rule.event(), n));
    }

    /// Masks every secret in `text`; calls `count(rule, n)` for each rule that masked `n > 0` matches.
    pub fn redact(&self, text: &mut String, mut count: impl FnMut(RedactionRule, u64)) {
        if self.rules.is_empty() {
            return;
        }
        // Most text holds no secret: ask only whether any rule matches first, which stops at the first
        // match and uses the set's literal prefilters; which rules match (an overlapping search of the
        // whole text) is asked only then.
        if !self.set.is_match(text) {
            return;
        }
        let matched = self.set.matches(text);
        for index in matched.iter() {
            let (rule, regex) = &self.rules[index];
            let mut n = 0u64;
            let replaced = regex.replace_all(text, |caps: &Captures<'_>| {
                if let Some(value) = caps.name("value")
                    && (value.as_str().contains("<*>") || value.as_str().starts_with("[REDACTED"))
                {
                    // A template placeholder or an already masked value: keep as is.
                    return caps[0].to_owned();
                }
                n += 1;
                let keep = caps.name("keep").map_or("", |k| k.as_str());
                let tail = if *rule == RedactionRule::UrlPassword {
                    "@"
                } else {
                    ""
                };
                format!("{keep}{REDACTED}{tail}")
            });
            if n > 0 {
                *text = replaced.into_owned();
                count(*rule, n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_field_is_named_as_by_its_field_name() {
        let key_names_secret = |key: &str, secret: &str| names_secret(last_segment(key), secret);
        // The field name built as it was, and the comparison on it.
        let built = |key: &str| last_segment(key).to_ascii_lowercase().replace('-', "_");
        let by_field_name = |key: &str, secret: &str| {
            let name = built(key);
            name == secret
                || name
                    .strip_suffix(secret)
                    .is_some_and(|head| head.ends_with('_'))
        };
        let keys = [
            "token",
            "Token",
            "TOKEN",
            "x-token",
            "x_token",
            "xtoken",
            "tokens",
            "http.header.X-Api-Key",
            "api-key",
            "Set-Cookie",
            "a.b.c",
            "",
            ".",
            "token.",
            "naïve_token",
            "é",
            "_",
            "-",
        ];
        let secrets = ["token", "api_key", "set_cookie", "", "é", "naïve_token"];
        for key in keys {
            assert_eq!(field_name(key), built(key), "{key:?}");
            for secret in secrets {
                assert_eq!(
                    key_names_secret(key, secret),
                    by_field_name(key, secret),
                    "{key:?} {secret:?}"
                );
            }
        }
        assert!(key_names_secret("http.header.X-Api-Key", "api_key"));
        assert!(!key_names_secret("xtoken", "token"));
    }

    fn redact(config: &RedactionConfig, text: &str) -> (String, Vec<RedactionRule>) {
        let mut out = text.to_owned();
        let mut hits = Vec::new();
        Redactor::new(config).redact(&mut out, |rule, _| hits.push(rule));
        (out, hits)
    }

    #[test]
    fn masks_real_looking_secrets() {
        let config = RedactionConfig::default();
        let cases = [
            (
                "GET /api Authorization: Bearer abcdEFGH1234.xyz-_~+/ ok",
                "GET /api Authorization: Bearer [REDACTED] ok",
            ),
            (
                "using key AKIAIOSFODNN7EXAMPLE for s3",
                "using key [REDACTED] for s3",
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end",
                "aws_secret_access_key=[REDACTED] end",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U seen",
                "token [REDACTED] seen",
            ),
            (
                "connecting to postgres://app:s3cr3t-Pa55@db.internal:5432/orders",
                "connecting to postgres://app:[REDACTED]@db.internal:5432/orders",
            ),
            (
                "login failed user=bob password=hunter2 retry=3",
                "login failed user=bob password=[REDACTED] retry=3",
            ),
            (
                r#"{"user":"bob","api_key":"k-123456","n":1}"#,
                r#"{"user":"bob","api_key":[REDACTED],"n":1}"#,
            ),
            (
                "mail sent to jane.doe+ops@example.co.uk at 10:00",
                "mail sent to [REDACTED] at 10:00",
            ),
            (
                "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- loaded",
                "key: [REDACTED] loaded",
            ),
        ];
        for (input, expected) in cases {
            let (out, hits) = redact(&config, input);
            assert_eq!(out, expected, "{input}");
            assert!(!hits.is_empty(), "{input}");
        }
    }

    #[test]
    fn leaves_look_alikes_alone() {
        let config = RedactionConfig::default();
        let untouched = [
            "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
            "login failed for user <*> password=<*>",
            "Pulling image registry.example.com/shop/checkout@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "Container image \"nginx:1.25\" already present on machine",
            "dial tcp 10.0.0.12:5432: connect: connection refused",
            "tokenizer loaded 30522 tokens",
            "password=[REDACTED] already masked",
        ];
        for input in untouched {
            let (out, hits) = redact(&config, input);
            assert_eq!(out, input, "{input} must not be masked (hits {hits:?})");
        }
    }

    #[test]
    fn ip_addresses_only_when_asked_and_nothing_when_disabled() {
        let line = "dial tcp 10.0.0.12:5432 from user@example.com";
        let with_ips = RedactionConfig {
            ip_addresses: true,
            ..RedactionConfig::default()
        };
        assert_eq!(
            redact(&with_ips, line).0,
            "dial tcp [REDACTED]:5432 from [REDACTED]"
        );
        let off = RedactionConfig {
            enabled: false,
            ..RedactionConfig::default()
        };
        assert_eq!(redact(&off, line).0, line);
        let only_email = RedactionConfig {
            rules: vec![RedactionRule::Email],
            ..RedactionConfig::default()
        };
        assert_eq!(
            redact(&only_email, "password=x a@b.io").0,
            "password=x [REDACTED]"
        );
    }

    #[test]
    fn counts_each_match() {
        let mut text = "a@b.io and c@d.io".to_owned();
        let mut counted = Vec::new();
        Redactor::new(&RedactionConfig::default())
            .redact(&mut text, |rule, n| counted.push((rule, n)));
        assert_eq!(counted, [(RedactionRule::Email, 2)]);
    }

    #[test]
    fn fields_named_like_secrets_are_masked_whatever_their_value_looks_like() {
        let redactor = Redactor::new(&RedactionConfig::default());
        let mut counted = Vec::new();
        for (key, value, masked) in [
            ("password", "hunter2", true),
            ("db_password", "correct horse", true),
            ("X-Api-Key", "k-123", true),
            ("client_secret", "s3cr3t", true),
            ("aws_secret_access_key", "x", true),
            ("http.authorization", "Basic dXNlcjpwYXNz", true),
            ("token_count", "42", false),
            ("passwordless", "yes", false),
            ("k8s.event.reason", "BackOff", false),
        ] {
            let mut value = value.to_owned();
            redactor.redact_field(key, &mut value, |event, n| counted.push((event, n)));
            assert_eq!(value == REDACTED, masked, "{key}");
        }
        assert_eq!(counted.len(), 6);
        assert!(
            counted
                .iter()
                .all(|(event, _)| *event == SECRET_FIELD_EVENT)
        );
        let off = Redactor::new(&RedactionConfig {
            enabled: false,
            ..RedactionConfig::default()
        });
        let mut value = "hunter2".to_owned();
        off.redact_field("password", &mut value, |_, _| {});
        assert_eq!(value, "hunter2", "redaction off");
    }
}
