//! A text of the incident (a line's key or payload) read once into pieces — literal runs, the places
//! where the incident's pod and node names stand, and its timestamps — so that rendering it for a
//! replica only writes pieces out. Renaming with `str::replace` and scanning for timestamps on every line
//! was about a sixth of the bench process's CPU, on the cores the stages share.

use super::load::{INCIDENT_NODE, INCIDENT_POD_HASH, INCIDENT_WORKLOAD, NODES};
use chrono::{Datelike, NaiveDateTime, Timelike};

/// Bytes in `YYYY-MM-DDTHH:MM:SS`.
const TIMESTAMP_LEN: usize = 19;

/// One piece of a [`Template`].
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// The incident's pods' name prefix (`<deployment>-<hash>`): the replica's own.
    Pods,
    /// The incident's node: the replica's.
    Node,
    /// A date and time, written moved by the replica's shift (as it was, if that overflows).
    Time {
        at: NaiveDateTime,
        /// `T` or a space.
        separator: char,
        original: String,
    },
}

/// A text read into pieces.
#[derive(Debug, Clone)]
pub(super) struct Template {
    pieces: Vec<Piece>,
    len: usize,
}

impl Template {
    /// `text`, its pod and node names and its `YYYY-MM-DDTHH:MM:SS` / `YYYY-MM-DD HH:MM:SS` timestamps
    /// found once.
    pub(super) fn new(text: &str) -> Self {
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        let mut pieces = Vec::new();
        let mut rest = text;
        loop {
            let next = [(pods.as_str(), Piece::Pods), (INCIDENT_NODE, Piece::Node)]
                .into_iter()
                .filter_map(|(name, piece)| rest.find(name).map(|at| (at, name.len(), piece)))
                .min_by_key(|(at, _, _)| *at);
            let Some((at, len, piece)) = next else {
                timed(rest, &mut pieces);
                break;
            };
            timed(&rest[..at], &mut pieces);
            pieces.push(piece);
            rest = &rest[at + len..];
        }
        Self {
            pieces,
            len: text.len(),
        }
    }

    /// The text it was read from.
    #[cfg(test)]
    pub(super) fn text(&self) -> String {
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) | Piece::Time { original: text, .. } => text.as_str(),
                Piece::Pods => pods.as_str(),
                Piece::Node => INCIDENT_NODE,
            })
            .collect()
    }

    /// The text as replica `replica` writes it, its times moved by `shift_s` seconds.
    pub(super) fn render(&self, replica: usize, shift_s: i64) -> String {
        let mut out = String::with_capacity(self.len + 16);
        let shift = chrono::TimeDelta::try_seconds(shift_s);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Pods => {
                    out.push_str(INCIDENT_WORKLOAD);
                    out.push_str("-w");
                    push_decimal(&mut out, replica as u64, 1);
                    out.push('-');
                    out.push_str(INCIDENT_POD_HASH);
                }
                Piece::Node => {
                    out.push_str(INCIDENT_NODE.trim_end_matches(|c: char| c.is_ascii_digit()));
                    push_decimal(&mut out, (replica % NODES) as u64, 6);
                }
                Piece::Time {
                    at,
                    separator,
                    original,
                } => match shift
                    .and_then(|shift| at.checked_add_signed(shift))
                    .and_then(|moved| Some((u64::try_from(moved.year()).ok()?, moved)))
                {
                    Some((year, moved)) => {
                        push_decimal(&mut out, year, 4);
                        for (before, value) in [
                            ('-', moved.month()),
                            ('-', moved.day()),
                            (*separator, moved.hour()),
                            (':', moved.minute()),
                            (':', moved.second()),
                        ] {
                            out.push(before);
                            push_decimal(&mut out, u64::from(value), 2);
                        }
                    }
                    None => out.push_str(original),
                },
            }
        }
        out
    }
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (up to 20): `write!`'s `{n:0width$}` without
/// the formatting machinery, which cost about a third of rendering a line (callgrind), on the cores
/// the stages share.
fn push_decimal(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(n % 10).expect("a decimal digit");
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = start.min(digits.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// Pushes `text` as literal runs and the timestamps in it.
fn timed(text: &str, pieces: &mut Vec<Piece>) {
    let bytes = text.as_bytes();
    let (mut copied, mut at) = (0, 0);
    while at + TIMESTAMP_LEN <= bytes.len() {
        match timestamp(&bytes[at..at + TIMESTAMP_LEN]) {
            // A match starts and ends on ASCII, so both slices fall on character boundaries.
            Some((time, separator)) => {
                if copied < at {
                    pieces.push(Piece::Text(text[copied..at].to_owned()));
                }
                pieces.push(Piece::Time {
                    at: time,
                    separator,
                    original: text[at..at + TIMESTAMP_LEN].to_owned(),
                });
                at += TIMESTAMP_LEN;
                copied = at;
            }
            None => at += 1,
        }
    }
    if copied < text.len() {
        pieces.push(Piece::Text(text[copied..].to_owned()));
    }
}

/// `window` (19 bytes) as a date and time and its separator, when it is one.
fn timestamp(window: &[u8]) -> Option<(NaiveDateTime, char)> {
    const SHAPE: &[u8; TIMESTAMP_LEN] = b"dddd-dd-dd_dd:dd:dd";
    let fits = SHAPE.iter().zip(window).all(|(&shape, &b)| match shape {
        b'd' => b.is_ascii_digit(),
        b'_' => b == b'T' || b == b' ',
        _ => b == shape,
    });
    if !fits {
        return None;
    }
    let number = |at: usize, len: usize| {
        window[at..at + len]
            .iter()
            .fold(0_u32, |n, &digit| n * 10 + u32::from(digit - b'0'))
    };
    let year = i32::try_from(number(0, 4)).ok()?;
    let time = chrono::NaiveDate::from_ymd_opt(year, number(5, 2), number(8, 2))?.and_hms_opt(
        number(11, 2),
        number(14, 2),
        number(17, 2),
    )?;
    Some((time, char::from(window[10])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifted(text: &str, shift_s: i64) -> String {
        Template::new(text).render(0, shift_s)
    }

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            59,
            99,
            100,
            2026,
            65_535,
            999_999,
            1_000_000,
            u64::MAX,
        ] {
            for width in [0, 1, 2, 4, 6, 20] {
                let mut out = String::from(">");
                push_decimal(&mut out, n, width);
                assert_eq!(out, format!(">{n:0width$}"), "{n} {width}");
            }
        }
    }

    #[test]
    fn timestamps_move_and_keep_their_shape() {
        let line =
            "2026-03-14T09:00:02.585000000Z stdout F 2026-03-14 09:00:02.585  INFO ü 2026-03-14";
        assert_eq!(
            shifted(line, 86_400 + 3_600),
            "2026-03-15T10:00:02.585000000Z stdout F 2026-03-15 10:00:02.585  INFO ü 2026-03-14"
        );
        assert_eq!(shifted("no time 12:00:00", 5), "no time 12:00:00");
        assert_eq!(shifted("2026-12-31 23:59:59", 1), "2027-01-01 00:00:00");
        assert_eq!(
            shifted("2026-13-01T00:00:00", 1),
            "2026-13-01T00:00:00",
            "not a date: left as it is"
        );
        assert_eq!(shifted("", 1), "");
    }

    #[test]
    fn a_replica_renames_the_pods_and_the_node_wherever_they_stand() {
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        let text = format!(
            "2026-03-14T09:00:00Z {pods}-x2x7q on {INCIDENT_NODE}, {INCIDENT_NODE}{pods}-abcde ü"
        );
        let node = |i: usize| format!("aks-nodepool1-31415926-vmss{:06}", i % NODES);
        assert_eq!(Template::new(&text).text(), text);
        for replica in [0, 7, NODES + 3] {
            assert_eq!(
                Template::new(&text).render(replica, 60),
                format!(
                    "2026-03-14T09:01:00Z checkout-w{replica}-6b8f7d9c4d-x2x7q on {n}, \
                     {n}checkout-w{replica}-6b8f7d9c4d-abcde ü",
                    n = node(replica)
                )
            );
        }
    }
}
