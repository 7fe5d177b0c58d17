//! Bounded gzip decompression: a gzip bomb is refused, never inflated.

use crate::reject::{Reason, Reject};
use std::io::Read;

/// Whether `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses (possibly multi-member) gzip `bytes`, refusing output larger than `limit` bytes.
///
/// # Errors
/// [`Reason::BadGzip`] for corrupt or truncated data, [`Reason::GzipTooLarge`] past `limit`.
pub fn inflate(bytes: &[u8], limit: usize) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let read = flate2::read::MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Reject::new(Reason::BadGzip, format!("gzip: {e}")))?;
    if read > limit {
        return Err(Reject::new(
            Reason::GzipTooLarge,
            format!("gzip expands beyond max_decompressed_bytes ({limit} bytes)"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("write");
        encoder.finish().expect("finish")
    }

    #[test]
    fn inflates_within_the_limit_and_refuses_bombs() {
        let packed = gzip(b"hello");
        assert!(is_gzip(&packed));
        assert_eq!(inflate(&packed, 5).expect("fits"), b"hello");
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "10 MiB of zeros packs small");
        assert_eq!(
            inflate(&bomb, 1 << 20).expect_err("bomb").reason,
            Reason::GzipTooLarge
        );
        let truncated = &packed[..packed.len() - 4];
        assert_eq!(
            inflate(truncated, 100).expect_err("truncated").reason,
            Reason::BadGzip
        );
    }
}
