//! Command signatures: HMAC-SHA256 over a command's canonical body, with keys that rotate by id.
//!
//! A key file holds one key per line, `<key-id> <base64 secret>` (`#` starts a comment). The first key
//! signs; every key listed verifies — so a rotation is: add the new key second, roll the actuators, move
//! it first, roll the issuers, drop the old one. The same text may come from an environment variable
//! (lines separated by newlines or `;`). Secrets must be at least 32 bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use schemas::{CommandSignature, RemediationCommand};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The only algorithm defined for [`CommandSignature::algorithm`].
pub const ALGORITHM: &str = "hmac-sha256";
/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The environment variable [`KeyRing::from_env`] reads by default.
pub const KEYS_ENV: &str = "MEDIC_COMMAND_KEYS";

type HmacSha256 = Hmac<Sha256>;

/// Why a key file or key text could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("key line {line}: {problem}")]
    Line {
        /// 1-based line (or `;`-separated entry) number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// No key at all.
    #[error("no keys: expected lines of `<key-id> <base64 secret>`")]
    Empty,
    /// The requested signing key is not in the ring.
    #[error("signing key {0:?} is not among the keys")]
    UnknownSigningKey(String),
}

/// Why a command's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The command carries no signature.
    #[error("unsigned command")]
    Unsigned,
    /// The signature names an algorithm other than `hmac-sha256`.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The signing key id is not trusted here.
    #[error("signed with unknown key {0:?}")]
    UnknownKey(String),
    /// The MAC does not match the body: the command was altered or forged.
    #[error("forged or altered command: signature does not match (key {0:?})")]
    Mismatch(String),
}

impl SignatureError {
    /// The reason code, used as a metric event and in dead-letter messages.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        match self {
            SignatureError::Unsigned => "unsigned",
            SignatureError::UnsupportedAlgorithm(_) | SignatureError::UnknownKey(_) => {
                "unknown_key"
            }
            SignatureError::Mismatch(_) => "forged",
        }
    }
}

/// The keys an issuer signs with and an actuator trusts.
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<String, Vec<u8>>,
    signing_key_id: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("KeyRing")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("signing_key_id", &self.signing_key_id)
            .finish()
    }
}

impl KeyRing {
    /// Parses key text (see the module docs); the first key signs.
    ///
    /// # Errors
    /// A malformed line, a short or non-base64 secret, a repeated id, or no key at all.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        let mut first = None;
        let entries = text
            .split(['\n', ';'])
            .map(|l| l.split('#').next().unwrap_or("").trim());
        for (i, entry) in entries.enumerate() {
            if entry.is_empty() {
                continue;
            }
            let problem = |problem: &str| KeyError::Line {
                line: i + 1,
                problem: problem.to_owned(),
            };
            let mut parts = entry.split_whitespace();
            let (Some(id), Some(secret), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(problem("expected `<key-id> <base64 secret>`"));
            };
            let secret = BASE64
                .decode(secret)
                .map_err(|e| problem(&format!("secret is not base64: {e}")))?;
            if secret.len() < MIN_SECRET_BYTES {
                return Err(problem(&format!(
                    "secret of key {id:?} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                    secret.len()
                )));
            }
            if keys.insert(id.to_owned(), secret).is_some() {
                return Err(problem(&format!("key id {id:?} appears twice")));
            }
            first.get_or_insert_with(|| id.to_owned());
        }
        let signing_key_id = first.ok_or(KeyError::Empty)?;
        Ok(Self {
            keys,
            signing_key_id,
        })
    }

    /// Reads a key file.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Reads the keys from the environment variable `var`, when it is set.
    ///
    /// # Errors
    /// When it is set but cannot be parsed.
    pub fn from_env(var: &str) -> Result<Option<Self>, KeyError> {
        std::env::var(var)
            .ok()
            .map(|text| Self::parse(&text))
            .transpose()
    }

    /// A fresh random key, known to this process only: enough for an issuer and actuator in one
    /// process (`medic demo`, `log` mode); useless across processes.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn ephemeral() -> Self {
        let line = Self::generate_line("ephemeral");
        Self::parse(&line).expect("a generated key parses")
    }

    /// A new key-file line `<key_id> <base64 of 32 random bytes>`.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate_line(key_id: &str) -> String {
        let mut secret = [0_u8; MIN_SECRET_BYTES];
        getrandom::fill(&mut secret).expect("the OS provides randomness");
        format!("{key_id} {}", BASE64.encode(secret))
    }

    /// Makes `key_id` the signing key.
    ///
    /// # Errors
    /// When `key_id` is not in the ring.
    pub fn signing_with(mut self, key_id: &str) -> Result<Self, KeyError> {
        if !self.keys.contains_key(key_id) {
            return Err(KeyError::UnknownSigningKey(key_id.to_owned()));
        }
        key_id.clone_into(&mut self.signing_key_id);
        Ok(self)
    }

    /// The id of the key that signs.
    #[must_use]
    pub fn signing_key_id(&self) -> &str {
        &self.signing_key_id
    }

    /// Signs `command` in place (replacing any signature) with the signing key.
    pub fn sign(&self, command: &mut RemediationCommand) {
        command.signature = None;
        let mac = self.mac(&self.signing_key_id, &canonical_body(command));
        command.signature = Some(CommandSignature {
            key_id: self.signing_key_id.clone(),
            algorithm: ALGORITHM.to_owned(),
            value: hex(&mac.finalize().into_bytes()),
        });
    }

    /// Checks `command`'s signature against the trusted keys (in constant time).
    ///
    /// # Errors
    /// Unsigned, unknown key or algorithm, or a MAC that does not match the body.
    pub fn verify(&self, command: &RemediationCommand) -> Result<(), SignatureError> {
        let signature = command.signature.as_ref().ok_or(SignatureError::Unsigned)?;
        if signature.algorithm != ALGORITHM {
            return Err(SignatureError::UnsupportedAlgorithm(
                signature.algorithm.clone(),
            ));
        }
        if !self.keys.contains_key(&signature.key_id) {
            return Err(SignatureError::UnknownKey(signature.key_id.clone()));
        }
        let mismatch = || SignatureError::Mismatch(signature.key_id.clone());
        let expected = unhex(&signature.value).ok_or_else(mismatch)?;
        let mut unsigned = command.clone();
        unsigned.signature = None;
        self.mac(&signature.key_id, &canonical_body(&unsigned))
            .verify_slice(&expected)
            .map_err(|_| mismatch())
    }

    fn mac(&self, key_id: &str, body: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.keys[key_id]).expect("HMAC accepts any key length");
        mac.update(body.as_bytes());
        mac
    }
}

/// The bytes a signature covers: the command as JSON with object keys sorted at every level, no
/// insignificant whitespace, and the signature field left out. Independent of field order on the wire.
#[must_use]
pub fn canonical_body(command: &RemediationCommand) -> String {
    let mut value = serde_json::to_value(command).expect("a command serialises");
    if let Value::Object(map) = &mut value {
        map.remove("signature");
    }
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Lower-case hex only (one spelling per MAC: no `+`, no upper case).
fn unhex(text: &str) -> Option<Vec<u8>> {
    let canonical = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !text.len().is_multiple_of(2) || !canonical {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{Action, Provenance, SCHEMA_VERSION, Target};

    fn command() -> RemediationCommand {
        RemediationCommand {
            schema_version: SCHEMA_VERSION,
            command_id: "d-1".into(),
            idempotency_key: "d-1".into(),
            target: Target::deployment("shop", "checkout"),
            action: Action::Scale { delta: 2 },
            issued_at_ns: 1,
            expires_at_ns: 2,
            reason: "load".into(),
            provenance: Provenance::default(),
            signature: None,
        }
    }

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(text).expect("keys parse")
    }

    #[test]
    fn signs_verifies_and_catches_every_alteration() {
        let keys = ring(&KeyRing::generate_line("k1"));
        let mut signed = command();
        keys.sign(&mut signed);
        assert_eq!(keys.verify(&signed), Ok(()));
        // Survives a JSON round trip (field order on the wire does not matter).
        let wire: RemediationCommand =
            serde_json::from_str(&serde_json::to_string(&signed).expect("json")).expect("json");
        assert_eq!(keys.verify(&wire), Ok(()));

        let mut altered = signed.clone();
        altered.action = Action::Scale { delta: 20 };
        assert_eq!(
            keys.verify(&altered),
            Err(SignatureError::Mismatch("k1".into()))
        );
        let mut later = signed.clone();
        later.expires_at_ns += 1;
        assert!(matches!(
            keys.verify(&later),
            Err(SignatureError::Mismatch(_))
        ));
        assert_eq!(keys.verify(&command()), Err(SignatureError::Unsigned));

        let other = ring(&KeyRing::generate_line("k1"));
        assert!(matches!(
            other.verify(&signed),
            Err(SignatureError::Mismatch(_))
        ));
        let stranger = ring(&KeyRing::generate_line("k9"));
        assert_eq!(
            stranger.verify(&signed),
            Err(SignatureError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn rotation_by_key_id() {
        let (old, new) = (KeyRing::generate_line("old"), KeyRing::generate_line("new"));
        let mut by_old = command();
        ring(&old).sign(&mut by_old);
        // The actuator trusts both while the issuers move to the new key.
        let both = ring(&format!("{new}\n{old}\n"));
        assert_eq!(both.signing_key_id(), "new");
        assert_eq!(both.verify(&by_old), Ok(()));
        let mut by_new = command();
        both.sign(&mut by_new);
        assert_eq!(
            by_new.signature.as_ref().map(|s| s.key_id.as_str()),
            Some("new")
        );
        assert!(ring(&old).verify(&by_new).is_err());
        assert_eq!(
            both.clone()
                .signing_with("old")
                .expect("known")
                .signing_key_id(),
            "old"
        );
        assert!(both.signing_with("gone").is_err());
    }

    #[test]
    fn refuses_bad_key_text() {
        assert!(matches!(
            KeyRing::parse("# nothing\n"),
            Err(KeyError::Empty)
        ));
        assert!(KeyRing::parse("k1 c2hvcnQ=").is_err(), "short secret");
        assert!(KeyRing::parse("k1 !!!").is_err(), "not base64");
        assert!(KeyRing::parse("k1").is_err(), "no secret");
        let line = KeyRing::generate_line("k1");
        assert!(
            KeyRing::parse(&format!("{line}\n{line}")).is_err(),
            "repeated id"
        );
        assert!(KeyRing::parse(&format!("# keys\n{line}  # primary\n")).is_ok());
        assert!(!format!("{:?}", ring(&line)).contains(line.split(' ').nth(1).expect("secret")));
    }
}
