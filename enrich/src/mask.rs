//! Variable masking: the foundation's template miner. Each whitespace token that looks like a variable
//! (a number, an address, an id, a path, a time) becomes `<*>` and is kept as a parameter. The online
//! Drain-class miner that generalises across sources replaces this in the enrich issue.

/// A message split into its template and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The template: the message with each variable token replaced by `<*>`.
    pub template: String,
    /// The replaced values, in order.
    pub params: Vec<String>,
}

/// Masks the variable tokens of `message`.
#[must_use]
pub fn mask_message(message: &str) -> Masked {
    let mut template = String::with_capacity(message.len());
    let mut params = Vec::new();
    for token in message.split_whitespace() {
        if !template.is_empty() {
            template.push(' ');
        }
        // Keep surrounding punctuation (quotes, brackets, trailing commas) as part of the template.
        let start = token.find(|c: char| !is_wrapper(c)).unwrap_or(token.len());
        let end = token.rfind(|c: char| !is_wrapper(c)).map_or(start, |i| {
            i + token[i..].chars().next().map_or(1, char::len_utf8)
        });
        let end = end.max(start);
        let mut core = &token[start..end];
        // `key=value` and `key:value` with a word key: keep the key, judge the value.
        let mut value_start = start;
        if let Some(split) = core.find(['=', ':'])
            && split > 0
            && !core[..split].bytes().any(|b| b.is_ascii_digit())
        {
            value_start = start + split + 1;
            core = &token[value_start..end];
        }
        if !core.is_empty() && is_variable(core) {
            template.push_str(&token[..value_start]);
            template.push_str("<*>");
            template.push_str(&token[end..]);
            params.push(core.to_owned());
        } else {
            template.push_str(token);
        }
    }
    Masked { template, params }
}

fn is_wrapper(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | ':' | '.' | '='
    )
}

/// Whether a token (without wrapping punctuation) is a variable.
fn is_variable(core: &str) -> bool {
    let has_digit = core.bytes().any(|b| b.is_ascii_digit());
    core.contains("://")
        || (core.starts_with('/') && core.len() > 1)
        || is_number_with_unit(core)
        || (core.starts_with("0x")
            && core.len() > 2
            && core[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        || (has_digit
            && core.len() >= 8
            && core.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        || (has_digit
            && core.bytes().all(|b| {
                b.is_ascii_digit() || matches!(b, b'.' | b':' | b'-' | b'T' | b'Z' | b'+' | b'/')
            }))
        || has_generated_suffix(core)
}

/// `42`, `-3.5`, `512Mi`, `30s`, `1.5ms`, `80%`.
fn is_number_with_unit(core: &str) -> bool {
    let digits_end = core
        .trim_start_matches(['-', '+'])
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(core.len(), |i| {
            i + (core.len() - core.trim_start_matches(['-', '+']).len())
        });
    let (number, unit) = core.split_at(digits_end);
    number.bytes().any(|b| b.is_ascii_digit())
        && unit.len() <= 3
        && unit.bytes().all(|b| b.is_ascii_alphabetic() || b == b'%')
}

/// Kubernetes generated names: `web-7d9c7f5b9d-x2x7q`, `blk_38865049064139660`, `job-x7k2p`.
fn has_generated_suffix(core: &str) -> bool {
    core.rsplit(['-', '_'])
        .next()
        .filter(|last| last.len() != core.len())
        .is_some_and(|last| {
            last.len() >= 5
                && last.bytes().any(|b| b.is_ascii_digit())
                && last.bytes().all(|b| b.is_ascii_alphanumeric())
        })
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
                "Back-off restarting failed container app in pod <*>)",
            ),
            (
                "Memory cgroup out of memory: Killed process 4242 (java) total-vm:2048kB",
                "Memory cgroup out of memory: Killed process <*> (java) total-vm:<*>",
            ),
            (
                "dial tcp 10.0.0.12:5432: connect: connection refused",
                "dial tcp <*>: connect: connection refused",
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
    }
}
