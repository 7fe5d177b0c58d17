//! Finding the line a key path (`ingest.sources[1].name`) stands on in a TOML file, so problems found
//! after parsing can still point at a line.

/// The 1-based line of `path` in `text`, if it is written there.
#[must_use]
pub(crate) fn line_of(text: &str, path: &str) -> Option<usize> {
    let segments: Vec<(&str, Option<usize>)> = path
        .split('.')
        .map(|seg| match seg.split_once('[') {
            Some((name, index)) => (name, index.trim_end_matches(']').parse().ok()),
            None => (seg, None),
        })
        .collect();
    let (key, _) = *segments.last()?;
    // The table that holds the key: every segment but the last, with array indexes.
    let table: Vec<_> = segments[..segments.len() - 1].to_vec();
    let table_name = table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(".");
    let index = table.last().and_then(|(_, i)| *i);

    let mut in_table = table.is_empty();
    let mut occurrences = 0usize;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            in_table = header.trim() == table_name && {
                occurrences += 1;
                index.is_none_or(|i| occurrences == i + 1)
            };
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            in_table = header.trim() == table_name;
            continue;
        }
        if in_table
            && let Some((name, _)) = line.split_once('=')
            && name.trim().trim_matches('"') == key
        {
            return Some(number + 1);
        }
    }
    // The key is not written (a default was wrong, or the problem is the table): point at the table.
    text.lines()
        .position(|l| {
            let l = l.trim();
            l == format!("[{table_name}]") || l == format!("[[{table_name}]]")
        })
        .filter(|_| !table.is_empty())
        .map(|n| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
[kafka]
brokers = \"x\"

[[ingest.sources]]
name = \"a\"

[[ingest.sources]]
name = \"B\"
format = \"cri\"

[runner]
batch_max_records = 0
";

    #[test]
    fn finds_keys_tables_and_array_entries() {
        assert_eq!(line_of(FILE, "kafka.brokers"), Some(2));
        assert_eq!(line_of(FILE, "ingest.sources[1].name"), Some(8));
        assert_eq!(line_of(FILE, "ingest.sources[0].name"), Some(5));
        assert_eq!(line_of(FILE, "runner.batch_max_records"), Some(12));
        assert_eq!(
            line_of(FILE, "runner.tick_interval"),
            Some(11),
            "unwritten key points at its table"
        );
        assert_eq!(line_of(FILE, "admin.listen"), None);
    }
}
