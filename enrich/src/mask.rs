//! Per-record masking for the enrich stage: a pure function of the message (so template ids are the same
//! in every process, on every restart and replay), using the miner's piece-level masking rules
//! ([`crate::tokens`]). The Drain miner ([`crate::drain`]) generalises further across messages.

use crate::tokens::{WILDCARD, is_timestamp_word, mask_token_into, whitespace_tokens};

/// A message split into its template and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The template: the message with each variable token replaced by `<*>`.
    pub template: String,
    /// The replaced values, in order.
    pub params: Vec<String>,
}

/// Masks the variable pieces of every token of `message`.
#[must_use]
pub fn mask_message(message: &str) -> Masked {
    let mut template = String::with_capacity(message.len());
    let mut params = Vec::new();
    let tokens = whitespace_tokens(message);
    for (i, token) in tokens.iter().enumerate() {
        if !template.is_empty() {
            template.push(' ');
        }
        if is_timestamp_word(&tokens, i) {
            template.push_str(WILDCARD);
            params.push((*token).to_owned());
        } else {
            mask_token_into(token, &mut template, Some(&mut params));
        }
    }
    Masked { template, params }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_common_variables() {
        let cases = [
            (
                "PacketResponder 1 for block blk_38865049064139660 terminating",
                "PacketResponder <*> for block <*> terminating",
            ),
            (
                "Back-off restarting failed container app in pod web-7d9c7f5b9d-x2x7q_shop(0a1b2c3d-0000-1111-2222-333344445555)",
                "Back-off restarting failed container app in pod <*>(<*>)",
            ),
            (
                "Memory cgroup out of memory: Killed process 4242 (java) total-vm:2048kB",
                "Memory cgroup out of memory: Killed process <*> (java) total-vm:<*>",
            ),
            (
                "dial tcp 10.0.0.12:5432: connect: connection refused",
                "dial tcp <*>:<*>: connect: connection refused",
            ),
            (
                "GET /api/v1/orders took 350ms status=500",
                "GET <*> took <*> status=<*>",
            ),
            (
                "Scaled up replica set px-5d567cc74c to 1",
                "Scaled up replica set <*> to <*>",
            ),
            ("Started container app", "Started container app"),
        ];
        for (message, template) in cases {
            assert_eq!(mask_message(message).template, template, "{message}");
        }
    }

    #[test]
    fn params_are_the_masked_values_in_order() {
        let masked = mask_message("retry 3 of 5 after 2s");
        assert_eq!(masked.template, "retry <*> of <*> after <*>");
        assert_eq!(masked.params, ["3", "5", "2s"]);
        let masked = mask_message("due Sat Jun 18 at 02:08");
        assert_eq!(masked.template, "due <*> <*> <*> at <*>:<*>");
        assert_eq!(masked.params, ["Sat", "Jun", "18", "02", "08"]);
    }
}
