//! Masking for template mining: each whitespace token is split at punctuation (`: = , ( ) [ ] { } " '`)
//! into pieces; a piece is a variable when it looks like a number, address or id (it starts with a digit
//! or a sign, a slash or `0x`, or carries two or more digits, or is a long hex string). Variables become
//! `<*>`; punctuation stays, so `size=1024,` masks to `size=<*>,` and `10.0.0.1:8080` to `<*>:<*>`.

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

/// The delimiters, by byte: all ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so a token
/// can be split at delimiter bytes without decoding its characters (this runs for every token).
const DELIMITER: [bool; 256] = schemas::byte_set::byte_set(b":=,()[]{}\"';|");

/// The pieces of `token` between delimiters (`a.b:c=d` → `a.b`, `c`, `d`), as `str::split` at the
/// delimiter characters gives them, without decoding characters.
fn split_pieces(token: &str) -> impl Iterator<Item = &str> {
    let bytes = token.as_bytes();
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match bytes[start..]
            .iter()
            .position(|b| DELIMITER[usize::from(*b)])
        {
            Some(offset) => {
                let piece = &token[start..start + offset];
                start += offset + 1;
                Some(piece)
            }
            None => {
                done = true;
                Some(&token[start..])
            }
        }
    })
}

/// The delimiters of `token`, in order.
fn delimiters(token: &str) -> impl Iterator<Item = u8> + '_ {
    token.bytes().filter(|b| DELIMITER[usize::from(*b)])
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

/// Whether `token` has anything to mask: without a digit only a path can be a variable (`TCP/IP`, `n/a`
/// are none).
fn needs_masking(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
        || (token.contains('/') && split_pieces(token).any(is_path))
}

/// Appends the masked form of `token` to `out`, and (when given) each masked piece to `params`.
pub fn mask_token_into(token: &str, out: &mut String, mut params: Option<&mut Vec<String>>) {
    // Runs of variables are one wildcard within the token, whatever `out` held before it.
    let start = out.len();
    let mut flush = |out: &mut String, piece: &str| {
        if is_variable_piece(piece) {
            if let Some(params) = params.as_deref_mut() {
                params.push(piece.to_owned());
            }
            if !out[start..].ends_with(WILDCARD) {
                out.push_str(WILDCARD);
            }
        } else {
            out.push_str(piece);
        }
    };
    let mut piece_start = 0;
    for (i, &b) in token.as_bytes().iter().enumerate() {
        if DELIMITER[usize::from(b)] {
            flush(out, &token[piece_start..i]);
            out.push(char::from(b));
            piece_start = i + 1;
        }
    }
    flush(out, &token[piece_start..]);
}

/// Splits a token into pieces and the delimiters between them (`a.b:c=d` → pieces `a.b`, `c`, `d`;
/// delimiters `:`, `=`).
fn pieces(token: &str) -> (Vec<&str>, Vec<u8>) {
    (split_pieces(token).collect(), delimiters(token).collect())
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
            out.push(char::from(*d));
        }
    }
    out
}

/// Appends to `params` the values of `token` that stand where `template` (the cluster's token at the
/// same position) has `<*>`: the whole token for a bare `<*>`, the matching pieces when both share their
/// punctuation (`<*>:<*>` against `10.0.0.1:8080` gives `10.0.0.1`, `8080`).
pub fn extract_params<'a, P: From<&'a str>>(template: &str, token: &'a str, params: &mut Vec<P>) {
    if template == token || !has_wildcard(template) {
        return;
    }
    if template == WILDCARD {
        params.push(token.into());
        return;
    }
    // Split as `pieces` splits, without collecting: this runs for every token of every line.
    if !delimiters(template).eq(delimiters(token)) {
        params.push(token.into());
        return;
    }
    for (t, m) in split_pieces(template).zip(split_pieces(token)) {
        if t == WILDCARD {
            params.push(m.into());
        }
    }
}

/// A message's tokens: `str::split_whitespace`'s, found byte by byte when the message is ASCII (the
/// usual case) without a vertical tab, the one ASCII character `char::is_whitespace` takes for a space
/// and `u8::is_ascii_whitespace` does not. (A single hand-written pass over the bytes was tried: 9 %
/// more instructions than these two scans and the standard splitter, under callgrind.)
#[must_use]
pub fn whitespace_tokens(message: &str) -> Vec<&str> {
    // Room for the tokens of a typical line at once (about one per six bytes), instead of growing
    // from four by doubling, a copy each time.
    let mut tokens = Vec::with_capacity(message.len() / 6 + 4);
    if message.is_ascii() && !message.as_bytes().contains(&0x0b) {
        tokens.extend(message.split_ascii_whitespace());
    } else {
        tokens.extend(message.split_whitespace());
    }
    tokens
}

/// Scratch space in which the tokens of a message are masked ([`TokenMasker::mask`]), reused from line
/// to line: masking writes every masked token into one string instead of a string each.
#[derive(Debug, Default)]
pub struct TokenMasker {
    text: String,
    spans: Vec<Span>,
}

/// Where a masked token is.
#[derive(Debug, Clone, Copy)]
enum Span {
    /// The token itself: nothing to mask.
    Token,
    /// A wildcard (a month or weekday name of a date).
    Wildcard,
    /// These bytes of [`TokenMasker::text`].
    Masked(usize, usize),
}

impl TokenMasker {
    /// Masks every token of a message: each on its own ([`mask_token_into`], when it has anything to
    /// mask), and the month and weekday names
    /// of a date written out ([`is_timestamp_word`]). A token with nothing to mask is borrowed from
    /// `tokens`, a masked one from this scratch space.
    pub fn mask<'t>(&'t mut self, tokens: &[&'t str]) -> Vec<&'t str> {
        self.text.clear();
        self.spans.clear();
        for (i, token) in tokens.iter().enumerate() {
            let span = if is_timestamp_word(tokens, i) {
                Span::Wildcard
            } else if needs_masking(token) {
                let start = self.text.len();
                mask_token_into(token, &mut self.text, None);
                Span::Masked(start, self.text.len())
            } else {
                Span::Token
            };
            self.spans.push(span);
        }
        let this: &'t Self = self;
        tokens
            .iter()
            .zip(&this.spans)
            .map(|(token, span)| match *span {
                Span::Token => *token,
                Span::Wildcard => WILDCARD,
                Span::Masked(start, end) => &this.text[start..end],
            })
            .collect()
    }
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
        let mut params: Vec<&str> = Vec::new();
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
        let masked = |m: &str| TokenMasker::default().mask(&whitespace_tokens(m)).join(" ");
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
    fn pieces_split_at_delimiter_bytes_as_str_split_does_at_characters() {
        let is_delimiter = |c: char| {
            matches!(
                c,
                ':' | '=' | ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | ';' | '|'
            )
        };
        for token in [
            "",
            ":",
            "a.b:c=d",
            "size=1024,",
            "[<*>]",
            "\"quoted\";x|y",
            "::a::",
            "é:ü=ß,日本(語)",
            "naïve",
            "{'k': 'v'}",
        ] {
            assert_eq!(
                split_pieces(token).collect::<Vec<_>>(),
                token.split(is_delimiter).collect::<Vec<_>>(),
                "{token}"
            );
            assert_eq!(
                delimiters(token).map(char::from).collect::<String>(),
                token
                    .chars()
                    .filter(|c| is_delimiter(*c))
                    .collect::<String>(),
                "{token}"
            );
        }
    }

    #[test]
    fn whitespace_tokens_are_split_whitespaces() {
        for message in [
            "",
            "  a  b\tc\r\nd ",
            "vt\x0bsplits ff\x0cdoes too",
            "nbsp\u{a0}and\u{3000}ideographic space",
            "plain ascii line with size=1024",
            "every\x0bascii\x0cspace\ta\nspace\rhere ",
            "ascii first, then\u{85}next line and \u{2028}line separator\u{1680}",
            "\u{a0}",
            "trailing\x0b",
        ] {
            assert_eq!(
                whitespace_tokens(message),
                message.split_whitespace().collect::<Vec<_>>(),
                "{message:?}"
            );
        }
        // Every ASCII byte, alone and in runs, between letters.
        let every_ascii: String = (0_u8..=127)
            .map(|b| format!("x{0}y{0}{0}", char::from(b)))
            .collect();
        assert_eq!(
            whitespace_tokens(&every_ascii),
            every_ascii.split_whitespace().collect::<Vec<_>>()
        );
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
        let mut masker = TokenMasker::default();
        for (token, expected) in cases {
            assert_eq!(masker.mask(&[token]), [expected], "{token}");
        }
    }
}
