//! Small text helpers shared by modules that must not depend on each other.

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary (what fits a column or a log field without splitting a character).
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clipping_never_splits_a_character() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abc", 2), "ab");
        // "한" is three bytes: four bytes keep one character, not one and a third.
        assert_eq!(clip("한국", 4), "한");
        assert_eq!(clip("한국", 2), "");
    }
}
