//! Single-quoted pseudo-JSON, as Azure Functions and App Service write the `properties` of their
//! diagnostic records (`{'appName':'shop','message':'Executing 'Functions.Order' (Reason='Timer')'}`),
//! rewritten as JSON. Used only after strict JSON failed, so valid JSON is never changed.
//!
//! A single-quoted string ends at a `'` followed (after spaces) by `}`, `]`, the end of the text, or a
//! `,` or `:` that a JSON value or key follows; any other `'` inside it is part of the text, as in the
//! `message` above (`(Reason='Timer', Id=7)` keeps its quotes: `Id=7` starts no value). Double-quoted
//! strings are copied as they are.

use serde_json::Value;

/// `text` with its single-quoted strings turned into JSON strings; `None` when it has none or one is
/// not closed.
#[must_use]
pub(crate) fn repair(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    let mut repaired = false;
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                // Copy a JSON string as it is, escapes included.
                while let Some((_, d)) = chars.next() {
                    out.push(d);
                    match d {
                        '\\' => out.push(chars.next()?.1),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                repaired = true;
                out.push('"');
                loop {
                    let (i, d) = chars.next()?;
                    match d {
                        '\'' if closes(&text[i + 1..]) => break,
                        '\\' => match chars.next()?.1 {
                            '\'' => out.push('\''),
                            e => {
                                out.push('\\');
                                out.push(e);
                            }
                        },
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        d if d.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(d))),
                        d => out.push(d),
                    }
                }
                out.push('"');
            }
            c => out.push(c),
        }
    }
    repaired.then_some(out)
}

/// Whether a `'` followed by `rest` closes a single-quoted string.
fn closes(rest: &str) -> bool {
    let rest = rest.trim_start();
    match rest.chars().next() {
        None | Some('}' | ']') => true,
        Some(',' | ':') => starts_a_value(rest[1..].trim_start()),
        Some(_) => false,
    }
}

/// Whether `text` starts with a JSON value or key (quoted string, object, array, number, literal).
fn starts_a_value(text: &str) -> bool {
    let literal = |word: &str| {
        text.strip_prefix(word)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric()))
    };
    text.starts_with(['\'', '"', '{', '[', '-'])
        || text.starts_with(|c: char| c.is_ascii_digit())
        || literal("true")
        || literal("false")
        || literal("null")
}

/// `text` parsed as JSON, or as single-quoted pseudo-JSON when strict JSON fails.
pub(crate) fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&repair(text)?).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_quoted_strings_become_json_with_quotes_inside_kept() {
        let text = "{'appName':'shop','levelId':2,'message':'Executing 'Functions.Order' \
                    (Reason='Timer', Id=7)','ok':true}";
        assert_eq!(
            parse(text),
            Some(json!({
                "appName": "shop",
                "levelId": 2,
                "message": "Executing 'Functions.Order' (Reason='Timer', Id=7)",
                "ok": true
            }))
        );
    }

    #[test]
    fn valid_json_is_left_alone_and_broken_text_is_refused() {
        assert_eq!(repair(r#"{"a":"it's"}"#), None, "no single-quoted string");
        assert_eq!(parse(r#"{"a":"it's"}"#), Some(json!({"a": "it's"})));
        assert_eq!(repair("{'a':'never closed"), None);
        assert_eq!(parse("{'a' 'b'}"), None, "still not JSON after the rewrite");
        assert_eq!(
            parse("{'a':'line\none\\'s'}"),
            Some(json!({"a": "line\none's"}))
        );
    }
}
