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
//! 3. only characters that are safe to send and to show:
//!    - no control characters (C0, DEL, C1: general category Cc);
//!    - only characters XML 1.0 allows (`Char` production) and no Unicode noncharacter
//!      (U+FDD0–U+FDEF and the last two code points of every plane, U+xxFFFE/U+xxFFFF).
//!      `DeleteObjects` sends its keys in an XML body that the SDK escapes but does not
//!      filter: one U+FFFF makes the whole body invalid XML, so the whole chunk of up to 1000
//!      keys fails, and a replay fails the same way forever;
//!    - no invisible characters that can disguise a key: every character of the Unicode
//!      general categories Cf (format: zero-width characters and joiners, bidi controls, the
//!      BOM, the Arabic letter mark, the Mongolian vowel separator, interlinear annotation
//!      marks, tag characters, ...), Zl and Zp (U+2028, U+2029), plus the whole Tags block
//!      U+E0000–U+E007F, whose unassigned code points can only ever become tags. The
//!      categories come from the `unicode-general-category` crate's Unicode tables, not from a
//!      hand-written list. This rejects emoji ZWJ sequences too: a key is not a place for them;
//! 4. no `*` or `?`: CloudFront treats `*` as a wildcard, and `?` starts a query string;
//! 5. no `.` or `..` segment, no segment made only of dots (`...`: Windows path APIs and
//!    IIS-style origins trim trailing dots, turning it into `..`) and no empty segment (`a//b`,
//!    trailing `/`), splitting on `/` and on `\` (which some clients treat as `/`);
//! 6. rules 3–5 again on every form a client, CDN, origin or normaliser may turn the key into.
//!    Starting from the key, each round applies, and checks the result of, each of:
//!    - Unicode NFKC, which turns compatibility look-alikes into the real thing: `．`, `‥`,
//!      `︰` (→ `..`), `︙` (→ `...`), `／`, `＼`, `＊`, `﹡`, `？`, `﹖`, `％` (so `％2e％2e`
//!      becomes `%2e%2e`), ...;
//!    - folding the look-alikes of `/` and `\` that NFKC keeps (`∕`, `⁄`, `⧸`, `⧵`, `⧹`), which
//!      careless normalisers and humans read as separators;
//!    - one round of percent-decoding (`%2e%2e`, `%2F`, `%00`, `%2A` are smuggling, not names).
//!
//!    A side effect, accepted on purpose: symbols whose NFKC form holds `?` or `*` (`⁇`, `⁉`)
//!    are rejected too, since a normalising client would send a query string.
//!
//!    Rounds repeat until the form stops changing, so `%252e%252e` (double-encoded) and
//!    `%EF%BC%8E` (an encoded `．`) are caught; a key still changing after
//!    [`MAX_DECODE_ROUNDS`] rounds is rejected rather than trusted. The key itself is never
//!    changed: the forms are only checked.
//!
//! Ordinary keys are unaffected: letters of any script (`café.jpg`, `日本.jpg`), spaces, `+`,
//! `~`, a `%` that is not an escape (`100%.jpg`) and escapes of ordinary characters all pass.
//!
//! Then the key must start with `PURGE_KEY_PREFIX` ([`KeySafetyError::KeyOutsidePrefix`]);
//! since `..` can't appear in any form, a prefix match is a real containment check.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use thiserror::Error;
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// S3's maximum key length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// How many rounds of normalise-and-decode rule 6 tries before it gives up on a key that keeps
/// changing. Real keys settle after one round; each extra round is one more level of `%25`.
pub const MAX_DECODE_ROUNDS: usize = 4;

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
    check_derived_forms(key).map_err(unsafe_key)?;
    if !key.starts_with(prefix) {
        return Err(KeySafetyError::KeyOutsidePrefix {
            key: shorten(key),
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

/// Rule 6: rules 3–5 on every normalised, folded and percent-decoded form of `key`, round after
/// round until a fixed point. The error names the transformation that revealed the problem.
fn check_derived_forms(key: &str) -> Result<(), &'static str> {
    // Most keys are ASCII without a `%`, and such a key is each of its own derived forms: ASCII
    // is its own NFKC form and holds no look-alike, and there is nothing to decode. The first
    // round below would find nothing changed; this skips its three copies of the key.
    if key.is_ascii() && !key.contains('%') {
        return Ok(());
    }
    check_derived_forms_round_by_round(key)
}

/// Rule 6 the long way, for any key.
fn check_derived_forms_round_by_round(key: &str) -> Result<(), &'static str> {
    let mut form = key.to_owned();
    // One round more than MAX_DECODE_ROUNDS: the last one must show that nothing changes.
    for _ in 0..=MAX_DECODE_ROUNDS {
        let normalised = nfkc(&form);
        if normalised != form {
            check_characters_and_segments(&normalised).map_err(|_| {
                "its Unicode NFKC form has a `..` or `.` segment, a separator, a wildcard or \
                 an invisible or control character (a compatibility look-alike)"
            })?;
        }
        let folded = fold_separator_lookalikes(&normalised);
        if folded != normalised {
            check_characters_and_segments(&folded).map_err(
                |_| "a Unicode look-alike of `/` or `\\` forms a `..`, `.` or empty segment",
            )?;
        }
        let decoded = percent_decode_str(&folded).decode_utf8_lossy();
        if decoded != folded {
            check_characters_and_segments(&decoded).map_err(|_| {
                "percent-encoded `..`, `.`, separator, wildcard, invisible or control character"
            })?;
        }
        let next = decoded.into_owned();
        if next == form {
            return Ok(());
        }
        form = next;
    }
    // Still changing after the last round: nested deeper than any real key would be, and a
    // client that decodes once more might see anything.
    Err("still changes after every allowed round of NFKC and percent-decoding (nested encoding)")
}

/// NFKC, skipping the work for ASCII (its own NFKC form), which most keys are.
fn nfkc(key: &str) -> Cow<'_, str> {
    if key.is_ascii() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(key.nfkc().collect())
    }
}

fn check_characters_and_segments(key: &str) -> Result<(), &'static str> {
    // An ASCII character is either a control or an XML character that is neither a
    // noncharacter nor invisible (`ascii_characters_need_only_the_control_check` checks all
    // 128), so an ASCII key needs only the control check; the Unicode tables are for the rest.
    let ascii = key.is_ascii();
    if key.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if !ascii && key.chars().any(|c| !is_xml_char(c) || is_noncharacter(c)) {
        return Err(
            "contains a character XML 1.0 forbids or a Unicode noncharacter \
                    (it would make the DeleteObjects request body invalid)",
        );
    }
    if !ascii && key.chars().any(is_invisible) {
        return Err(
            "contains an invisible character (Unicode format character, line or \
                    paragraph separator: zero-width, bidi control, BOM, tag, ...)",
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
            // Windows path APIs and IIS-style origins trim trailing dots, so `...` is `..` there.
            dots if dots.bytes().all(|b| b == b'.') => {
                return Err("has a segment made only of dots (`...` is `..` to some servers)");
            }
            _ => {}
        }
    }
    Ok(())
}

/// XML 1.0's `Char` production (section 2.2): the characters an XML document may hold at all,
/// escaped or not. Surrogates can't occur in a Rust `char`, so only the C0 controls and
/// U+FFFE/U+FFFF are left out in practice.
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}'
    )
}

/// Unicode noncharacters (Unicode §23.7): U+FDD0–U+FDEF and the last two code points of each of
/// the 17 planes. Permanently reserved for internal use, never meant to be interchanged.
fn is_noncharacter(c: char) -> bool {
    let u = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
}

/// Characters that change how a key displays, or display as nothing, without being part of
/// its visible name: general categories Cf, Zl and Zp, and the whole Tags block.
fn is_invisible(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || ('\u{E0000}'..='\u{E007F}').contains(&c)
}

/// Replaces the look-alikes of `/` and `\` that NFKC leaves alone with the ASCII character.
/// Look-alikes of `.` need no entry here: NFKC already turns all of them into `.`.
fn fold_separator_lookalikes(key: &str) -> Cow<'_, str> {
    let lookalike = |c: char| -> Option<char> {
        match c {
            // division slash, fraction slash, big solidus
            '\u{2215}' | '\u{2044}' | '\u{29F8}' => Some('/'),
            // set minus, big reverse solidus
            '\u{29F5}' | '\u{29F9}' => Some('\\'),
            _ => None,
        }
    };
    if !key.chars().any(|c| lookalike(c).is_some()) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(key.chars().map(|c| lookalike(c).unwrap_or(c)).collect())
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
    fn ascii_characters_need_only_the_control_check() {
        for c in (0u8..128).map(char::from) {
            assert!(
                c.is_control() || (is_xml_char(c) && !is_noncharacter(c) && !is_invisible(c)),
                "{c:?}"
            );
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

    /// Also checks that the rule meant to catch `key` is the one that did.
    #[track_caller]
    fn assert_unsafe_because(key: &str, fragment: &str) {
        match check_key(key, "") {
            Err(KeySafetyError::UnsafeKey { why, .. }) if why.contains(fragment) => {}
            other => panic!("{key:?} must be an UnsafeKey mentioning {fragment:?}, got {other:?}"),
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
            "images/.../secret",
            "images/....",
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

    // Rule 3, XML: each of these alone makes a DeleteObjects body invalid XML.
    #[test]
    fn u_ffff_is_unsafe() {
        assert_unsafe_because("images/a\u{FFFF}.jpg", "XML");
    }

    #[test]
    fn u_fffe_is_unsafe() {
        assert_unsafe_because("images/a\u{FFFE}.jpg", "XML");
    }

    #[test]
    fn every_noncharacter_is_unsafe() {
        let noncharacters = (0xFDD0..=0xFDEF)
            .chain((0..=0x10).flat_map(|plane: u32| [plane << 16 | 0xFFFE, plane << 16 | 0xFFFF]))
            .filter_map(char::from_u32)
            .collect::<Vec<_>>();
        assert_eq!(
            noncharacters.len(),
            66,
            "Unicode has exactly 66 noncharacters"
        );
        for c in noncharacters {
            assert_unsafe(&format!("images/a{c}.jpg"));
        }
    }

    #[test]
    fn neighbours_of_noncharacters_are_fine() {
        for c in ['\u{FDCF}', '\u{FDF0}', '\u{FFFD}', '\u{10000}', '\u{1FFFD}'] {
            assert!(
                is_xml_char(c) && !is_noncharacter(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn percent_encoded_noncharacter_is_unsafe() {
        assert_unsafe_because("images/a%EF%BF%BF.jpg", "percent-encoded");
    }

    // Rule 3, invisible characters the old hand-written list missed.
    #[test]
    fn arabic_letter_mark_is_unsafe() {
        assert_unsafe_because("images/a\u{061C}b.jpg", "invisible");
    }

    #[test]
    fn mongolian_vowel_separator_is_unsafe() {
        assert_unsafe("images/a\u{180E}b.jpg");
    }

    #[test]
    fn deprecated_format_characters_are_unsafe() {
        for c in '\u{206A}'..='\u{206F}' {
            assert_unsafe(&format!("images/a{c}b"));
        }
    }

    #[test]
    fn interlinear_annotation_characters_are_unsafe() {
        for c in '\u{FFF9}'..='\u{FFFB}' {
            assert_unsafe(&format!("images/a{c}b"));
        }
    }

    #[test]
    fn tag_characters_are_unsafe() {
        // The whole block, including the unassigned U+E0000 and U+E0002–U+E001F.
        for c in '\u{E0000}'..='\u{E007F}' {
            assert_unsafe(&format!("images/a{c}b"));
        }
    }

    #[test]
    fn line_separator_is_unsafe() {
        assert_unsafe("images/a\u{2028}b.jpg");
    }

    #[test]
    fn paragraph_separator_is_unsafe() {
        assert_unsafe("images/a\u{2029}b.jpg");
    }

    #[test]
    fn every_format_and_separator_character_is_unsafe() {
        let invisible = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| {
                matches!(
                    get_general_category(c),
                    GeneralCategory::Format
                        | GeneralCategory::LineSeparator
                        | GeneralCategory::ParagraphSeparator
                )
            })
            .collect::<Vec<_>>();
        // Unicode 16 has 170 Cf characters, one Zl and one Zp: the crate's table is not empty.
        assert!(invisible.len() > 150, "{}", invisible.len());
        for c in invisible {
            assert_unsafe(&format!("images/a{c}b.jpg"));
        }
    }

    // Rule 6, NFKC look-alikes and nested encodings.
    #[test]
    fn vertical_two_dot_leader_is_unsafe() {
        // U+FE30 PRESENTATION FORM FOR VERTICAL TWO DOT LEADER, NFKC `..`
        assert_unsafe_because("images/\u{FE30}/x.jpg", "NFKC");
    }

    #[test]
    fn vertical_horizontal_ellipsis_is_unsafe() {
        // U+FE19 PRESENTATION FORM FOR VERTICAL HORIZONTAL ELLIPSIS, NFKC `...`: a dots-only
        // segment, which trailing-dot trimming turns into `..`.
        assert_unsafe("images/\u{FE19}/x.jpg");
    }

    #[test]
    fn fullwidth_asterisk_is_unsafe() {
        assert_unsafe("images/\u{FF0A}");
    }

    #[test]
    fn small_asterisk_is_unsafe() {
        assert_unsafe("images/a\u{FE61}");
    }

    #[test]
    fn fullwidth_question_mark_is_unsafe() {
        assert_unsafe("images/a\u{FF1F}b");
    }

    #[test]
    fn small_question_mark_is_unsafe() {
        assert_unsafe("images/a\u{FE56}b");
    }

    #[test]
    fn fullwidth_percent_encoding_is_unsafe() {
        assert_unsafe("images/\u{FF05}2e\u{FF05}2e/x");
    }

    #[test]
    fn double_percent_encoding_is_unsafe() {
        assert_unsafe("images/%252e%252e/x");
        assert_unsafe("images/%252E%252E/x");
        assert_unsafe("images%252f..%252fx");
    }

    #[test]
    fn triple_percent_encoding_is_unsafe() {
        assert_unsafe("images/%25252e%25252e/x");
    }

    #[test]
    fn percent_encoded_fullwidth_dots_are_unsafe() {
        // %EF%BC%8E is U+FF0E FULLWIDTH FULL STOP: decode, then NFKC, gives `..`.
        assert_unsafe("images/%EF%BC%8E%EF%BC%8E/x");
    }

    #[test]
    fn nesting_is_followed_up_to_the_bound_and_rejected_beyond() {
        // Four levels of `%25` around an ordinary `A`: four changing rounds, then a fixed point.
        assert_eq!(check_key("images/%25252541.jpg", ""), Ok(()));
        // Five levels: still changing after the last allowed round.
        assert_unsafe_because("images/%2525252541.jpg", "still changes");
    }

    #[test]
    fn legitimate_keys_still_pass() {
        for key in [
            "café.jpg",
            "cafe\u{301}.jpg", // decomposed é: a combining mark is not invisible
            "日本.jpg",
            "images/日本/写真 1.jpg",
            "a b c.jpg",
            "a+b.jpg",
            "~user/a~b.jpg",
            "Ⅻ-ﬁle½.jpg", // NFKC changes them, harmlessly
            "100%.jpg",
            "50%-off%.png",
            "images/a%20b.jpg",
            "images/%41.jpg",
            "images/%252541.jpg",
            "wait….jpg",
        ] {
            assert_eq!(check_key(key, ""), Ok(()), "{key}");
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
        /// a wildcard, a control, invisible or XML-invalid character, in its raw, decoded, NFKC
        /// or NFKC-then-decoded form.
        #[test]
        fn never_panics_and_never_accepts_traversal(key in "\\PC{0,40}|\\PC{0,3}[\\p{Cf}\\u{FFFE}\\u{FFFF}]\\PC{0,3}|[./%2eE5\\\\*?a-c\\u{FE30}\\u{FF0E}\\u{FF05}\\u{FF0A}\\u{FF1F}\\u{2215}]{0,12}") {
            if check_key(&key, "").is_ok() {
                prop_assert!(!key.is_empty() && !key.starts_with('/'));
                prop_assert!(!key.contains(['*', '?']));
                prop_assert!(!key.chars().any(char::is_control));
                let decoded = percent_decode_str(&key).decode_utf8_lossy().into_owned();
                let normalised = nfkc(&key).into_owned();
                let normalised_decoded = percent_decode_str(&normalised).decode_utf8_lossy().into_owned();
                for form in [&key, &decoded, &normalised, &normalised_decoded] {
                    prop_assert!(!form.split(['/', '\\']).any(|s| s == ".." || s == "."), "{form}");
                    prop_assert!(!form.contains(['*', '?']), "{form}");
                    prop_assert!(!form.chars().any(|c| is_invisible(c) || !is_xml_char(c) || is_noncharacter(c)), "{form}");
                }
            }
        }

        /// The shortcut for plain ASCII keys answers what the rounds would: nothing changes.
        #[test]
        fn plain_ascii_keys_need_no_rounds(key in "[\\x00-\\x24\\x26-\\x7f]{0,40}") {
            prop_assert_eq!(check_derived_forms_round_by_round(&key), Ok(()));
            prop_assert_eq!(check_derived_forms(&key), Ok(()));
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
