//! Command signatures over a command's canonical body, with keys that rotate by id: Ed25519 (the
//! issuer holds the private key, the actuator only the public one, so it can verify but never mint a
//! command) or, for older key files, HMAC-SHA256 (symmetric: whoever verifies can also sign).
//!
//! A key file holds one key per line (`#` starts a comment):
//!
//! | line | signs | verifies |
//! |---|---|---|
//! | `<key-id> ed25519 <base64 32-byte seed>` | yes | yes |
//! | `<key-id> ed25519-public <base64 32-byte public key>` | no | yes |
//! | `<key-id> hmac-sha256 <base64 secret>` (≥ 32 bytes) | yes | yes |
//!
//! Every line names its kind: an older two-word line (`<key-id> <base64 secret>`, HMAC) is refused with
//! how to mend it, since a public key pasted without its kind would otherwise be taken for an HMAC secret
//! that anyone who knows the public key could sign with.
//!
//! The first key that can sign signs; every key listed verifies, each only signatures of its own
//! algorithm (a public Ed25519 key is never taken for an HMAC secret). A rotation: add the new key's
//! public line second on the actuators, add its private line first on the issuers, drop the old one
//! from both. `medic act keygen` writes a private line, `medic act public-keys` the public lines of a
//! key file. The same text may come from an environment variable (lines separated by newlines or `;`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use schemas::id::hex;
use schemas::{CommandSignature, RemediationCommand};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// [`CommandSignature::algorithm`] of an Ed25519 signature.
pub const ED25519_ALGORITHM: &str = "ed25519";
/// [`CommandSignature::algorithm`] of an HMAC-SHA256 signature.
pub const HMAC_ALGORITHM: &str = "hmac-sha256";
/// The shortest HMAC secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The environment variable [`KeyRing::from_env`] reads by default.
pub const KEYS_ENV: &str = "MEDIC_COMMAND_KEYS";

const ED25519_PUBLIC_KIND: &str = "ed25519-public";
const ED25519_BYTES: usize = 32;

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
    #[error("no keys: expected lines of `<key-id> ed25519 <base64 seed>` (see `medic act keygen`)")]
    Empty,
    /// The requested signing key is not in the ring, or cannot sign.
    #[error("signing key {0:?} is not among the keys that can sign")]
    UnknownSigningKey(String),
    /// Every key in the ring is a public key.
    #[error("no key here can sign: the key file holds public keys only")]
    NoSigningKey,
    /// An HMAC key has no public half to hand to an actuator.
    #[error("key {0:?} is an HMAC secret: it has no public half (whoever verifies it can sign)")]
    Symmetric(String),
}

/// Why a command's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The command carries no signature.
    #[error("unsigned command")]
    Unsigned,
    /// The signature names an algorithm other than its key's.
    #[error("signature algorithm {algorithm:?} is not that of key {key_id:?}")]
    UnsupportedAlgorithm {
        /// The key id the signature names.
        key_id: String,
        /// The algorithm it names.
        algorithm: String,
    },
    /// The signing key id is not trusted here.
    #[error("signed with unknown key {0:?}")]
    UnknownKey(String),
    /// The signature does not match the body: the command was altered or forged.
    #[error("forged or altered command: signature does not match (key {0:?})")]
    Mismatch(String),
}

impl SignatureError {
    /// The reason code, used as a metric event and in dead-letter messages.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        match self {
            SignatureError::Unsigned => "unsigned",
            SignatureError::UnsupportedAlgorithm { .. } | SignatureError::UnknownKey(_) => {
                "unknown_key"
            }
            SignatureError::Mismatch(_) => "forged",
        }
    }
}

/// One key of a ring.
#[derive(Clone)]
enum Key {
    Hmac(Vec<u8>),
    Ed25519Private(Arc<Ed25519KeyPair>),
    Ed25519Public(Vec<u8>),
}

impl Key {
    const fn algorithm(&self) -> &'static str {
        match self {
            Key::Hmac(_) => HMAC_ALGORITHM,
            Key::Ed25519Private(_) | Key::Ed25519Public(_) => ED25519_ALGORITHM,
        }
    }

    const fn can_sign(&self) -> bool {
        !matches!(self, Key::Ed25519Public(_))
    }

    /// Reads the `kind` and base64 `material` of a key line.
    fn parse(id: &str, kind: &str, material: &str) -> Result<Self, String> {
        let bytes = BASE64
            .decode(material)
            .map_err(|e| format!("key {id:?} is not base64: {e}"))?;
        let exact = |what: &str| {
            if bytes.len() == ED25519_BYTES {
                Ok(())
            } else {
                Err(format!(
                    "{what} of key {id:?} is {} bytes; Ed25519 needs exactly {ED25519_BYTES}",
                    bytes.len()
                ))
            }
        };
        match kind {
            HMAC_ALGORITHM if bytes.len() < MIN_SECRET_BYTES => Err(format!(
                "secret of key {id:?} is {} bytes; at least {MIN_SECRET_BYTES} are required",
                bytes.len()
            )),
            HMAC_ALGORITHM => Ok(Key::Hmac(bytes)),
            ED25519_ALGORITHM => {
                exact("the seed")?;
                let pair = Ed25519KeyPair::from_seed_unchecked(&bytes)
                    .map_err(|e| format!("key {id:?} is not an Ed25519 seed: {e}"))?;
                Ok(Key::Ed25519Private(Arc::new(pair)))
            }
            ED25519_PUBLIC_KIND => {
                exact("the public key")?;
                Ok(Key::Ed25519Public(bytes))
            }
            other => Err(format!(
                "unknown key kind {other:?} (expected {ED25519_ALGORITHM}, {ED25519_PUBLIC_KIND} or \
                 {HMAC_ALGORITHM})"
            )),
        }
    }

    /// The signature of `body`, as lower-case hex.
    fn sign(&self, body: &[u8]) -> Option<String> {
        match self {
            Key::Hmac(secret) => Some(hex(&hmac(secret, body).finalize().into_bytes())),
            Key::Ed25519Private(pair) => Some(hex(pair.sign(body).as_ref())),
            Key::Ed25519Public(_) => None,
        }
    }

    /// Whether `signature` (raw bytes) is this key's over `body` (HMAC in constant time).
    fn verifies(&self, body: &[u8], signature: &[u8]) -> bool {
        let public = |bytes: &[u8]| UnparsedPublicKey::new(&ED25519, bytes.to_vec());
        match self {
            Key::Hmac(secret) => hmac(secret, body).verify_slice(signature).is_ok(),
            Key::Ed25519Private(pair) => public(pair.public_key().as_ref())
                .verify(body, signature)
                .is_ok(),
            Key::Ed25519Public(bytes) => public(bytes).verify(body, signature).is_ok(),
        }
    }
}

fn hmac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

/// The keys an issuer signs with and an actuator trusts.
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<String, Key>,
    signing_key_id: Option<String>,
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
    /// Parses key text (see the module docs); the first key that can sign signs.
    ///
    /// # Errors
    /// A malformed line, an unknown kind, bad key material, a repeated id, or no key at all.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        let mut signing_key_id = None;
        let entries = text
            .split(['\n', ';'])
            .map(|l| l.split('#').next().unwrap_or("").trim());
        for (i, entry) in entries.enumerate() {
            if entry.is_empty() {
                continue;
            }
            let problem = |problem: String| KeyError::Line {
                line: i + 1,
                problem,
            };
            let words: Vec<&str> = entry.split_whitespace().collect();
            let (id, kind, material) = match words[..] {
                [id, kind, material] => (id, kind, material),
                [id, _] => {
                    return Err(problem(format!(
                        "key {id:?} does not say its kind: write `{id} ed25519-public <base64>` for \
                         a public key, or `{id} hmac-sha256 <base64>` for an older HMAC secret"
                    )));
                }
                _ => {
                    return Err(problem(
                        "expected `<key-id> <kind> <base64 key>` (kind ed25519, ed25519-public or \
                         hmac-sha256)"
                            .to_owned(),
                    ));
                }
            };
            let key = Key::parse(id, kind, material).map_err(problem)?;
            if key.can_sign() {
                signing_key_id.get_or_insert_with(|| id.to_owned());
            }
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(problem(format!("key id {id:?} appears twice")));
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
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

    /// A new private key line, `<key_id> ed25519 <base64 of a 32-byte random seed>`.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate_line(key_id: &str) -> String {
        format!("{key_id} {ED25519_ALGORITHM} {}", random_base64())
    }

    /// A new HMAC-SHA256 key line, `<key_id> hmac-sha256 <base64 of 32 random bytes>`, for setups
    /// that keep a symmetric key.
    ///
    /// # Panics
    /// When the operating system has no randomness to give.
    #[must_use]
    pub fn generate_hmac_line(key_id: &str) -> String {
        format!("{key_id} {HMAC_ALGORITHM} {}", random_base64())
    }

    /// The verify-only key text for this ring: one `<key-id> ed25519-public <base64>` line per key,
    /// in id order — what an actuator should hold.
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] when the ring holds an HMAC key (it has no public half).
    pub fn public_lines(&self) -> Result<String, KeyError> {
        let mut out = String::new();
        for (id, key) in &self.keys {
            let public = match key {
                Key::Hmac(_) => return Err(KeyError::Symmetric(id.clone())),
                Key::Ed25519Private(pair) => pair.public_key().as_ref(),
                Key::Ed25519Public(bytes) => bytes.as_slice(),
            };
            let _ = writeln!(out, "{id} {ED25519_PUBLIC_KIND} {}", BASE64.encode(public));
        }
        Ok(out)
    }

    /// Makes `key_id` the signing key.
    ///
    /// # Errors
    /// When `key_id` is not in the ring or is a public key.
    pub fn signing_with(mut self, key_id: &str) -> Result<Self, KeyError> {
        if !self.keys.get(key_id).is_some_and(Key::can_sign) {
            return Err(KeyError::UnknownSigningKey(key_id.to_owned()));
        }
        self.signing_key_id = Some(key_id.to_owned());
        Ok(self)
    }

    /// The id of the key that signs, if any key here can.
    #[must_use]
    pub fn signing_key_id(&self) -> Option<&str> {
        self.signing_key_id.as_deref()
    }

    /// The ids of the keys that could sign a command: an actuator should hold none (public keys only).
    #[must_use]
    pub fn signing_capable_ids(&self) -> Vec<&str> {
        self.keys
            .iter()
            .filter(|(_, key)| key.can_sign())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// The signer of this ring: its signing key.
    ///
    /// # Errors
    /// [`KeyError::NoSigningKey`] when every key here is public.
    pub fn signer(&self) -> Result<Signer, KeyError> {
        let id = self.signing_key_id.clone().ok_or(KeyError::NoSigningKey)?;
        let key = self.keys[&id].clone();
        Ok(Signer { id, key })
    }

    /// Checks `command`'s signature against the trusted keys.
    ///
    /// # Errors
    /// Unsigned, an unknown key, an algorithm that is not its key's, or a signature that does not match
    /// the body.
    pub fn verify(&self, command: &RemediationCommand) -> Result<(), SignatureError> {
        let signature = command.signature.as_ref().ok_or(SignatureError::Unsigned)?;
        let key = self
            .keys
            .get(&signature.key_id)
            .ok_or_else(|| SignatureError::UnknownKey(signature.key_id.clone()))?;
        if signature.algorithm != key.algorithm() {
            return Err(SignatureError::UnsupportedAlgorithm {
                key_id: signature.key_id.clone(),
                algorithm: signature.algorithm.clone(),
            });
        }
        let mismatch = || SignatureError::Mismatch(signature.key_id.clone());
        let raw = unhex(&signature.value).ok_or_else(mismatch)?;
        let mut unsigned = command.clone();
        unsigned.signature = None;
        key.verifies(canonical_body(&unsigned).as_bytes(), &raw)
            .then_some(())
            .ok_or_else(mismatch)
    }
}

/// The key that signs commands (see [`KeyRing::signer`]).
#[derive(Clone)]
pub struct Signer {
    id: String,
    key: Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key_id", &self.id).finish()
    }
}

impl Signer {
    /// The id of the signing key.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// Signs `command` in place (replacing any signature).
    pub fn sign(&self, command: &mut RemediationCommand) {
        command.signature = None;
        let value = self
            .key
            .sign(canonical_body(command).as_bytes())
            .expect("a signer holds a key that can sign");
        command.signature = Some(CommandSignature {
            key_id: self.id.clone(),
            algorithm: self.key.algorithm().to_owned(),
            value,
        });
    }
}

fn random_base64() -> String {
    let mut bytes = [0_u8; ED25519_BYTES];
    getrandom::fill(&mut bytes).expect("the OS provides randomness");
    BASE64.encode(bytes)
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
        keys.signer().expect("signs").sign(&mut signed);
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
        ring(&old).signer().expect("signs").sign(&mut by_old);
        // The actuator trusts both while the issuers move to the new key.
        let both = ring(&format!("{new}\n{old}\n"));
        assert_eq!(both.signing_key_id(), Some("new"));
        assert_eq!(both.verify(&by_old), Ok(()));
        let mut by_new = command();
        both.signer().expect("signs").sign(&mut by_new);
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
            Some("old")
        );
        assert!(both.signing_with("gone").is_err());
    }

    #[test]
    fn refuses_bad_key_text() {
        assert!(matches!(
            KeyRing::parse("# nothing\n"),
            Err(KeyError::Empty)
        ));
        assert!(
            KeyRing::parse("k1 hmac-sha256 c2hvcnQ=").is_err(),
            "short secret"
        );
        assert!(KeyRing::parse("k1 ed25519 c2hvcnQ=").is_err(), "short seed");
        assert!(KeyRing::parse("k1 rsa c2hvcnQ=").is_err(), "unknown kind");
        assert!(KeyRing::parse("k1 !!!").is_err(), "not base64");
        assert!(KeyRing::parse("k1").is_err(), "no secret");
        let line = KeyRing::generate_line("k1");
        assert!(
            KeyRing::parse(&format!("{line}\n{line}")).is_err(),
            "repeated id"
        );
        assert!(KeyRing::parse(&format!("# keys\n{line}  # primary\n")).is_ok());
        let secret = line.split(' ').nth(2).expect("seed");
        assert!(!format!("{:?}", ring(&line)).contains(secret));
        assert!(!format!("{:?}", ring(&line).signer().expect("signs")).contains(secret));
    }

    #[test]
    fn an_actuator_with_the_public_key_verifies_but_cannot_sign() {
        let private = ring(&KeyRing::generate_line("prod-1"));
        let public = ring(&private.public_lines().expect("ed25519 has a public half"));
        assert!(public.signing_capable_ids().is_empty());
        assert!(matches!(public.signer(), Err(KeyError::NoSigningKey)));
        assert!(public.clone().signing_with("prod-1").is_err());
        assert_eq!(private.signing_capable_ids(), ["prod-1"]);

        let mut signed = command();
        private.signer().expect("signs").sign(&mut signed);
        let signature = signed.signature.clone().expect("signed");
        assert_eq!(signature.algorithm, ED25519_ALGORITHM);
        assert_eq!(public.verify(&signed), Ok(()));
        let mut altered = signed.clone();
        altered.target = Target::deployment("kube-system", "coredns");
        assert_eq!(
            public.verify(&altered),
            Err(SignatureError::Mismatch("prod-1".into()))
        );
        // The public lines of the public ring are the same lines: an idempotent export.
        assert_eq!(
            public.public_lines().expect("public"),
            private.public_lines().expect("public")
        );
    }

    #[test]
    fn a_public_key_is_never_taken_for_an_hmac_secret() {
        // Whoever knows the actuator's public key (it is not secret) MACs a command with it and calls
        // the signature HMAC: the key's own algorithm decides, so it is refused.
        let private = ring(&KeyRing::generate_line("prod-1"));
        let public_text = private.public_lines().expect("public");
        let public = ring(&public_text);
        let public_bytes = public_text.split_whitespace().nth(2).expect("key");
        let forger = ring(&format!("prod-1 hmac-sha256 {public_bytes}"));
        let mut forged = command();
        forger.signer().expect("signs").sign(&mut forged);
        assert_eq!(
            public.verify(&forged),
            Err(SignatureError::UnsupportedAlgorithm {
                key_id: "prod-1".into(),
                algorithm: HMAC_ALGORITHM.into()
            })
        );
        assert_eq!(
            public.verify(&forged).map_err(|e| e.reason()),
            Err("unknown_key")
        );
    }

    #[test]
    fn hmac_keys_sign_and_verify_but_have_no_public_half_and_must_say_their_kind() {
        let secret = KeyRing::generate_hmac_line("old")
            .split_whitespace()
            .nth(2)
            .expect("secret")
            .to_owned();
        // A line without its kind is refused: a public key pasted so would become an HMAC secret.
        let error = KeyRing::parse(&format!("old {secret}")).expect_err("no kind");
        assert!(error.to_string().contains("old hmac-sha256"), "{error}");
        let legacy = ring(&format!("old hmac-sha256 {secret}"));
        let mut signed = command();
        legacy.signer().expect("signs").sign(&mut signed);
        assert_eq!(
            signed.signature.as_ref().map(|s| s.algorithm.as_str()),
            Some(HMAC_ALGORITHM)
        );
        assert_eq!(
            ring(&format!("old hmac-sha256 {secret}")).verify(&signed),
            Ok(())
        );
        assert!(matches!(legacy.public_lines(), Err(KeyError::Symmetric(id)) if id == "old"));
    }
}
