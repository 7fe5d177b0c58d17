//! [`byte_set`]: a set of bytes as a 256-entry table, built at compile time, for scans that test every
//! byte of every line (a table lookup, where a search of the members would be a call per byte).

/// The table whose entry for each byte of `members` is true, and every other entry false.
#[must_use]
pub const fn byte_set(members: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < members.len() {
        table[members[i] as usize] = true;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_its_members() {
        let set = byte_set(b"a:\xff");
        let members: Vec<u8> = (0..=255u8).filter(|b| set[usize::from(*b)]).collect();
        assert_eq!(members, b":a\xff", "in byte order");
        assert_eq!(byte_set(b"").iter().filter(|m| **m).count(), 0);
    }
}
