//! Masking for template mining: each whitespace token is split at punctuation (`: = , ( ) [ ] { } " '`)
//! into pieces; a piece is a variable when it looks like a number, address or id (it starts with a digit
//! or a sign, a slash or `0x`, or carries two or more digits, or is a long hex string). Variables become
//! `<*>`; punctuation stays, so `size=1024,` masks to `size=<*>,` and `10.0.0.1:8080` to `<*>:<*>`.

use std::borrow::Cow;

/// The wildcard in templates.
pub const WILDCARD: &str = "<*>";

/// Whether `token` holds a [`WILDCARD`]. Byte by byte: `str::contains` with a string pattern builds a
/// searcher for every call, and this runs for every token of every line.
#[must_use]
pub fn has_wildcard(token: &str) -> bool {
    token
        .as_bytes()
        .windows(WILDCARD.len())
        .any(|w| w == WILDCARD.as_bytes())
}

fn is_delimiter(c: char) -> bool {
    matches!(
        c,
        ':' | '=' | ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | ';' | '|'
    )
}

/// Whether one piece (no delimiters inside) is a variable.
#[must_use]
pub fn is_variable_piece(piece: &str) -> bool {
    let bytes = piece.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if is_path(piece) {
        return true;
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let second_is_digit = bytes.get(1).is_some_and(u8::is_ascii_digit);
    first.is_ascii_digit()
        || (matches!(first, b'-' | b'+' | b'/' | b'#' | b'.') && (second_is_digit || first == b'/'))
        || piece.starts_with("0x")
        || digits >= 2
        || (bytes.len() >= 8 && bytes.iter().all(u8::is_ascii_hexdigit))
}

/// A file path or a URL's path: starts with `/` and has another `/` after its first segment
/// (`/var/lib/nova`, `//host/x` of `http://host/x`).
fn is_path(piece: &str) -> bool {
    piece.len() > 2 && piece.starts_with('/') && piece[1..].contains('/')
}

/// Masks one whitespace token (borrowed when it has nothing to mask, the common case).
#[must_use]
pub fn mask_token(token: &str) -> Cow<'_, str> {
    // Without a digit only a path can be a variable (`TCP/IP`, `n/a` are none).
    let has_digit = token.bytes().any(|b| b.is_ascii_digit());
    let has_path = || token.contains('/') && token.split(is_delimiter).any(is_path);
    if !has_digit && !has_path() {
        return Cow::Borrowed(token);
    }
    let mut out = String::with_capacity(token.len());
    mask_token_into(token, &mut out, None);
    Cow::Owned(out)
}

/// Appends the masked form of `token` to `out`, and (when given) each masked piece to `params`.
pub fn mask_token_into(token: &str, out: &mut String, mut params: Option<&mut Vec<String>>) {
    let mut flush = |out: &mut String, piece: &str| {
        if is_variable_piece(piece) {
            if let Some(params) = params.as_deref_mut() {
                params.push(piece.to_owned());
            }
            if !out.ends_with(WILDCARD) {
                out.push_str(WILDCARD);
            }
        } else {
            out.push_str(piece);
        }
    };
    let mut piece_start = 0;
    for (i, c) in token.char_indices() {
        if is_delimiter(c) {
            flush(out, &token[piece_start..i]);
            out.push(c);
            piece_start = i + c.len_utf8();
        }
    }
    flush(out, &token[piece_start..]);
}

/// Splits a token into pieces and the delimiters between them (`a.b:c=d` → pieces `a.b`, `c`, `d`;
/// delimiters `:`, `=`).
fn pieces(token: &str) -> (Vec<&str>, Vec<char>) {
    let mut pieces = Vec::new();
    let mut delimiters = Vec::new();
    let mut start = 0;
    for (i, c) in token.char_indices() {
        if is_delimiter(c) {
            pieces.push(&token[start..i]);
            delimiters.push(c);
            start = i + c.len_utf8();
        }
    }
    pieces.push(&token[start..]);
    (pieces, delimiters)
}

/// Generalises two differing template tokens: when they share their punctuation (`host-a:<*>` and
/// `host-b:<*>`), only the differing pieces become `<*>` (`<*>:<*>`); otherwise the whole token does.
#[must_use]
pub fn merge_token(template: &str, token: &str) -> String {
    let (left, left_delimiters) = pieces(template);
    let (right, right_delimiters) = pieces(token);
    if left_delimiters.is_empty() || left_delimiters != right_delimiters {
        return WILDCARD.to_owned();
    }
    let mut out = String::with_capacity(template.len());
    for (i, (l, r)) in left.iter().zip(&right).enumerate() {
        if l == r {
            out.push_str(l);
        } else if !out.ends_with(WILDCARD) {
            out.push_str(WILDCARD);
        }
        if let Some(d) = left_delimiters.get(i) {
            out.push(*d);
        }
    }
    out
}

/// Appends to `params` the values of `token` that stand where `template` (the cluster's token at the
/// same position) has `<*>`: the whole token for a bare `<*>`, the matching pieces when both share their
/// punctuation (`<*>:<*>` against `10.0.0.1:8080` gives `10.0.0.1`, `8080`).
pub fn extract_params(template: &str, token: &str, params: &mut Vec<String>) {
    if template == token || !has_wildcard(template) {
        return;
    }
    if template == WILDCARD {
        params.push(token.to_owned());
        return;
    }
    // Split as `pieces` splits, without collecting: this runs for every token of every line. Delimiters
    // are ASCII, and no byte of a multi-byte UTF-8 character is, so comparing bytes compares characters.
    let delimiter = |b: &u8| b.is_ascii() && is_delimiter(char::from(*b));
    let same_delimiters = template
        .bytes()
        .filter(delimiter)
        .eq(token.bytes().filter(delimiter));
    if !same_delimiters {
        params.push(token.to_owned());
        return;
    }
    for (t, m) in template.split(is_delimiter).zip(token.split(is_delimiter)) {
        if t == WILDCARD {
            params.push(m.to_owned());
        }
    }
}

/// Splits a message at whitespace and masks every token ([`mask_tokens`]).
#[must_use]
pub fn masked_tokens(message: &str) -> Vec<Cow<'_, str>> {
    mask_tokens(&message.split_whitespace().collect::<Vec<_>>())
}

/// Masks every token of a message: each on its own ([`mask_token`]), and the month and weekday names
/// of a date written out ([`is_timestamp_word`]).
#[must_use]
pub fn mask_tokens<'a>(tokens: &[&'a str]) -> Vec<Cow<'a, str>> {
    (0..tokens.len())
        .map(|i| {
            if is_timestamp_word(tokens, i) {
                Cow::Borrowed(WILDCARD)
            } else {
                mask_token(tokens[i])
            }
        })
        .collect()
}

/// Whether `tokens[i]` is a month or weekday name inside a written-out date (`Sat Jun 18 02:08:10 2005`,
/// `Jul 9`, `3 March,`): a name beside a number, or a name before another name and a number. It is part
/// of a timestamp, not a constant of the event; a name without a number beside it (`May I`,
/// `Sun /usr/lib`) stays a word.
#[must_use]
pub fn is_timestamp_word(tokens: &[&str], i: usize) -> bool {
    let number = |t: Option<&&str>| t.is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()));
    // Cheap neighbour checks first: most words have no number beside them.
    let beside_number = (i > 0 && number(tokens.get(i - 1)))
        || number(tokens.get(i + 1))
        || (number(tokens.get(i + 2)) && tokens.get(i + 1).is_some_and(|t| is_date_word(t)));
    beside_number && is_date_word(tokens[i])
}

/// An English month or weekday name, abbreviated or whole, any case, maybe with a trailing comma
/// (`Jun`, `SAT`, `Tuesday,`). Rejects most words on their first three letters, without a table scan:
/// it runs for every word beside a number.
fn is_date_word(token: &str) -> bool {
    const WHOLE: [&str; 20] = [
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "sept",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "may",
    ];
    let word = token.strip_suffix(',').unwrap_or(token);
    let bytes = word.as_bytes();
    if !(3..=9).contains(&bytes.len()) {
        return false;
    }
    let stem = [
        bytes[0].to_ascii_lowercase(),
        bytes[1].to_ascii_lowercase(),
        bytes[2].to_ascii_lowercase(),
    ];
    let named = matches!(
        &stem,
        b"jan"
            | b"feb"
            | b"mar"
            | b"apr"
            | b"may"
            | b"jun"
            | b"jul"
            | b"aug"
            | b"sep"
            | b"oct"
            | b"nov"
            | b"dec"
            | b"mon"
            | b"tue"
            | b"wed"
            | b"thu"
            | b"fri"
            | b"sat"
            | b"sun"
    );
    named && (bytes.len() == 3 || WHOLE.iter().any(|n| n.eq_ignore_ascii_case(word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_tokens_piece_by_piece_when_their_punctuation_agrees() {
        assert_eq!(
            merge_token("proxy.cse.cuhk.edu.hk:<*>", "www.google.com:<*>"),
            "<*>:<*>"
        );
        assert_eq!(merge_token("size=<*>,", "count=<*>,"), "<*>=<*>,");
        assert_eq!(merge_token("alice", "bob"), "<*>");
        assert_eq!(merge_token("a:b", "a=b"), "<*>");
    }

    #[test]
    fn extracts_the_values_under_wildcards() {
        let mut params = Vec::new();
        extract_params("<*>:<*>", "10.0.0.1:8080", &mut params);
        extract_params("<*>", "alice", &mut params);
        extract_params("size=<*>,", "size=1024,", &mut params);
        extract_params("block", "block", &mut params);
        extract_params("<*>=<*>", "a:b", &mut params);
        extract_params("<*>:<*>", "a:b:c", &mut params);
        extract_params("<*>=<*>:", "a:b=", &mut params);
        extract_params("[<*>]", "[x]", &mut params);
        assert_eq!(
            params,
            [
                "10.0.0.1", "8080", "alice", "1024", "a:b", "a:b:c", "a:b=", "x"
            ]
        );
    }

    #[test]
    fn month_and_weekday_names_beside_numbers_are_part_of_a_timestamp() {
        let masked = |m: &str| {
            masked_tokens(m)
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<&str>>()
                .join(" ")
        };
        assert_eq!(
            masked("connection from 10.0.0.1 at Sat Jun 18 02:08:10 2005"),
            "connection from <*> at <*> <*> <*> <*>:<*>:<*> <*>"
        );
        assert_eq!(masked("due on 3 March, then"), "due on <*> <*> then");
        assert_eq!(masked("May I help you"), "May I help you");
        assert_eq!(masked("state SAT solver"), "state SAT solver");
        assert_eq!(masked("Sun /usr/lib/jvm"), "Sun <*>", "a path is no number");
        assert_eq!(masked("retry 3 Sun Mon Tue"), "retry <*> <*> Mon Tue");
    }

    #[test]
    fn masks_variables_inside_tokens() {
        let cases = [
            ("/10.250.14.38:50010", "<*>:<*>"),
            ("blk_-6952295868487656571", "<*>"),
            ("totalSteps=1234:56:7:8", "totalSteps=<*>:<*>:<*>:<*>"),
            ("size=1024,", "size=<*>,"),
            ("(dcr", "(dcr"),
            ("0x1f2e", "<*>"),
            ("ssh2", "ssh2"),
            ("SOCKS5", "SOCKS5"),
            ("jk2_init()", "jk2_init()"),
            ("[client", "[client"),
            ("4bf92f3577b34da6", "<*>"),
            ("-5", "<*>"),
            ("v1.2.3", "<*>"),
            ("/var/lib/nova/_base", "<*>"),
            ("(/proc/kmsg)", "(<*>)"),
            ("http://example.org/a/b", "http:<*>"),
            ("/", "/"),
            ("/etc", "/etc"),
        ];
        for (token, expected) in cases {
            assert_eq!(mask_token(token), expected, "{token}");
        }
    }
}
