//! Unsigned LEB128 varints (7 bits a byte, low first), as the audit index's
//! chunks (`audit::chunk`) and the lookup cache's blocks
//! (`api::lookup_cache`) store their numbers.

/// Appends `v` to `buf`.
pub fn put(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The varint at the start of `bytes`, which then starts after it; `None`
/// (and `bytes` left as it was) if it is cut short or longer than a `u64`.
pub fn get(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (k, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            *bytes = &bytes[k + 1..];
            return Some(v);
        }
    }
    None
}

/// The bytes [`put`] writes for `v`.
pub fn len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_back_and_take_the_bytes_len_says() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut buf = vec![];
            put(&mut buf, v);
            assert_eq!(buf.len(), len(v), "{v}");
            buf.push(0xAA);
            let mut rest = &buf[..];
            assert_eq!(get(&mut rest), Some(v));
            assert_eq!(rest, [0xAA]);
        }
        let mut cut: &[u8] = &[0x80, 0x80];
        assert_eq!(get(&mut cut), None);
        assert_eq!(cut.len(), 2);
    }
}
