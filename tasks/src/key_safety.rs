//! The rules a computed object key must pass before purgeflow deletes anything.
//!
//! purgeflow must never delete outside its prefix, nor via `..` or wildcards. S3 keys are
//! literal (S3 itself never resolves `..` or percent-escapes), so a key like `a/../b` deletes
//! exactly the object named `a/../b`. The danger is elsewhere: the same key becomes CDN paths,
//! and HTTP clients, CloudFront and origins normalise `..`, `.`, percent-escapes and sometimes
//! Unicode compatibility forms. A key that reads one way to S3 and another way to the CDN or to
//! a human is not purged; it is rejected with [`KeySafetyError::UnsafeKey`] and reported. The
//! rules, checked in order:
//!
//! 1. not empty, at most 1024 bytes of UTF-8 (S3's limit);
//! 2. no leading `/` (an S3 key has none; one here means a template or data bug);
//! 3. no control characters (C0, DEL, C1) and no invisible format characters that can disguise
//!    a key (zero-width, bidirectional overrides, BOM);
//! 4. no `*` or `?`: CloudFront treats `*` as a wildcard, and `?` starts a query string;
//! 5. no `.` or `..` segment and no empty segment (`a//b`, trailing `/`), splitting on `/`
//!    and on `\` (which some clients treat as `/`);
//! 6. the same rules 3–5 after percent-decoding once (`%2e%2e`, `%2F`, `%00`, `%2A` are
//!    smuggling, not names), and after folding the Unicode look-alikes of `.`, `/` and `\`
//!    (`．`, `‥`, `∕`, `⁄`, `／`, `＼`, ...), which some normalisers turn into the real thing.
//!
//! Then the key must start with `PURGE_KEY_PREFIX` ([`KeySafetyError::KeyOutsidePrefix`]);
//! since `..` can't appear, a prefix match is a real containment check.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use thiserror::Error;

/// S3's maximum key length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeySafetyError {
    #[error("unsafe key {key:?}: {why}")]
    UnsafeKey { key: String, why: &'static str },
    #[error("key {key:?} is outside the allowed prefix {prefix:?}")]
    KeyOutsidePrefix { key: String, prefix: String },
}

/// Checks `key` against every rule, then against `prefix` (empty: the whole bucket).
pub fn check_key(key: &str, prefix: &str) -> Result<(), KeySafetyError> {
    let unsafe_key = |why| KeySafetyError::UnsafeKey {
        key: shorten(key),
        why,
    };
    if key.is_empty() {
        return Err(unsafe_key("empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(unsafe_key("longer than 1024 bytes"));
    }
    if key.starts_with('/') {
        return Err(unsafe_key("starts with `/`"));
    }
    check_characters_and_segments(key).map_err(unsafe_key)?;
    // Smuggling: the same rules on the decoded and on the look-alike-folded forms.
    let decoded = percent_decode_str(key).decode_utf8_lossy();
    if decoded != key {
        check_characters_and_segments(&decoded).map_err(|_| {
            unsafe_key("percent-encoded `..`, `.`, separator, wildcard or control character")
        })?;
    }
    let folded = fold_lookalikes(&decoded);
    if folded != decoded {
        check_characters_and_segments(&folded).map_err(|_| {
            unsafe_key("Unicode look-alike of `.`, `/` or `\\` forming a dot segment")
        })?;
    }
    if !key.starts_with(prefix) {
        return Err(KeySafetyError::KeyOutsidePrefix {
            key: shorten(key),
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

fn check_characters_and_segments(key: &str) -> Result<(), &'static str> {
    if key.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if key.chars().any(is_invisible_format_char) {
        return Err(
            "contains an invisible formatting character (zero-width, bidi override or BOM)",
        );
    }
    if key.contains(['*', '?']) {
        return Err("contains `*` or `?` (a CloudFront wildcard or a query string)");
    }
    for segment in key.split(['/', '\\']) {
        match segment {
            ".." => return Err("has a `..` segment"),
            "." => return Err("has a `.` segment"),
            "" => return Err("has an empty segment (`//`, a leading `\\` or a trailing `/`)"),
            _ => {}
        }
    }
    Ok(())
}

/// Zero-width characters, bidirectional controls and the BOM: category Cf characters that make
/// a key display differently from what it is.
fn is_invisible_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'       // bidi isolates
        | '\u{FEFF}'                    // BOM / zero-width no-break space
    )
}

/// Replaces the Unicode look-alikes that NFKC (or a careless normaliser) turns into `.`, `/`
/// or `\` with the ASCII character. Only used to check; the key itself is never changed.
fn fold_lookalikes(key: &str) -> Cow<'_, str> {
    let lookalike = |c: char| -> Option<&'static str> {
        match c {
            '\u{2024}' | '\u{FE52}' | '\u{FF0E}' => Some("."), // one dot leader, small/fullwidth full stop
            '\u{2025}' => Some(".."),                          // two dot leader
            '\u{2026}' => Some("..."),                         // ellipsis
            '\u{2215}' | '\u{2044}' | '\u{FF0F}' | '\u{29F8}' => Some("/"), // division/fraction/fullwidth/big solidus
            '\u{FF3C}' | '\u{FE68}' | '\u{29F5}' | '\u{29F9}' => Some("\\"), // reverse solidus look-alikes
            _ => None,
        }
    };
    if !key.chars().any(|c| lookalike(c).is_some()) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        match lookalike(c) {
            Some(ascii) => out.push_str(ascii),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Keys end up in rejections and logs; an oversized one is cut, on a char boundary.
fn shorten(key: &str) -> String {
    const SHOWN: usize = 200;
    if key.len() <= SHOWN {
        return key.to_owned();
    }
    let mut end = SHOWN;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &key[..end], key.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn assert_unsafe(key: &str) {
        match check_key(key, "") {
            Err(KeySafetyError::UnsafeKey { .. }) => {}
            other => panic!("{key:?} must be an UnsafeKey, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_keys_pass() {
        for key in [
            "p-42.jpeg",
            "images/banana.jpg",
            "images/2024/06/a b c.png",
            "café/naïve-日本.jpg",
            "a.b..c/..d/e..",
            "100%.jpg",
            "images/%41.jpg",
        ] {
            assert_eq!(check_key(key, ""), Ok(()), "{key}");
        }
    }

    #[test]
    fn empty_key_is_unsafe() {
        assert_unsafe("");
    }

    #[test]
    fn over_1024_bytes_is_unsafe_but_1024_is_fine() {
        assert_eq!(check_key(&"a".repeat(1024), ""), Ok(()));
        assert_unsafe(&"a".repeat(1025));
        // Bytes, not characters: 342 three-byte characters are 1026 bytes.
        assert_unsafe(&"日".repeat(342));
    }

    #[test]
    fn leading_slash_is_unsafe() {
        assert_unsafe("/images/a.jpg");
    }

    #[test]
    fn dot_dot_segments_are_unsafe() {
        for key in [
            "..",
            "../a",
            "images/../secret",
            "images/..",
            "a\\..\\b",
            "a/./b",
            ".",
        ] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn empty_segments_are_unsafe() {
        for key in ["a//b", "images/", "\\a"] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn control_characters_are_unsafe() {
        for key in [
            "a\0b",
            "a\nb",
            "a\rb",
            "tab\tkey",
            "del\u{7f}",
            "c1\u{85}",
            "esc\u{1b}[0m",
        ] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn wildcards_are_unsafe() {
        for key in ["*", "images/*", "a?.jpg", "images/a*b"] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn percent_encoded_smuggling_is_unsafe() {
        for key in [
            "images/%2e%2e/secret",
            "images/%2E%2E/secret",
            "images/.%2e/x",
            "images%2f..%2fsecret",
            "a%00b",
            "a%2Ab",
            "a%3Fb",
            "a%5C..%5Cb",
        ] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn unicode_lookalikes_are_unsafe() {
        for key in [
            "images/\u{FF0E}\u{FF0E}/secret", // fullwidth full stops
            "images/\u{2025}/secret",         // two dot leader
            "images\u{2215}..\u{2215}x",      // division slash
            "images/..\u{FF0F}x",             // fullwidth solidus
            "images/\u{2024}\u{2024}\u{FF3C}x",
        ] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn invisible_characters_are_unsafe() {
        for key in ["a\u{200B}b", "photo\u{202E}gpj.exe", "\u{FEFF}a"] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn prefix_is_enforced() {
        assert_eq!(check_key("images/a.jpg", "images/"), Ok(()));
        for key in [
            "private/a.jpg",
            "images-old/a.jpg",
            "image/a.jpg",
            "Images/a.jpg",
        ] {
            assert!(
                matches!(
                    check_key(key, "images/"),
                    Err(KeySafetyError::KeyOutsidePrefix { .. })
                ),
                "{key}"
            );
        }
        // `..` can't climb out: it is unsafe before the prefix is even compared.
        assert!(matches!(
            check_key("images/../private/a.jpg", "images/"),
            Err(KeySafetyError::UnsafeKey { .. })
        ));
    }

    #[test]
    fn long_keys_are_shortened_in_errors() {
        let key = "é".repeat(600);
        let err = check_key(&key, "").expect_err("too long").to_string();
        assert!(err.len() < 400, "{err}");
        assert!(err.contains("(1200 bytes)"), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the key, the check answers; and an accepted key never holds a `..` segment,
        /// a wildcard or a control character, in any of the forms the module docs list.
        #[test]
        fn never_panics_and_never_accepts_traversal(key in "\\PC{0,40}|[./%2eE\\\\*?a-c]{0,12}") {
            if check_key(&key, "").is_ok() {
                prop_assert!(!key.is_empty() && !key.starts_with('/'));
                prop_assert!(!key.contains(['*', '?']));
                prop_assert!(!key.chars().any(char::is_control));
                let decoded = percent_decode_str(&key).decode_utf8_lossy().into_owned();
                for form in [key.as_str(), decoded.as_str()] {
                    prop_assert!(!form.split(['/', '\\']).any(|s| s == ".." || s == "."), "{form}");
                }
            }
        }

        /// With a prefix, an accepted key always starts with it.
        #[test]
        fn accepted_keys_are_inside_the_prefix(key in "[a-z./]{0,16}") {
            if check_key(&key, "images/").is_ok() {
                prop_assert!(key.starts_with("images/"));
            }
        }
    }
}
