//! The rules a computed object key must pass before purgeflow deletes anything.
//!
//! purgeflow must never delete outside its prefix, nor via `..` or wildcards. S3 keys are
//! literal (S3 itself never resolves `..` or percent-escapes), so a key like `a/../b` deletes
//! exactly the object named `a/../b`. The danger is elsewhere: the same key becomes CDN paths,
//! and HTTP clients, proxies, CloudFront, origins and their file systems normalise `..`, `.`,
//! percent-escapes, path parameters, whitespace and Unicode forms. A key that reads one way to
//! S3 and another way to the CDN or to a human is not purged; it is rejected with
//! [`KeySafetyError::UnsafeKey`], which says which normalisation made it unsafe, and reported.
//!
//! **The principle: a segment that any common origin, proxy or OS could normalise to `.` or
//! `..` is unsafe.** It is applied from decoders and Unicode data, not from a list of examples:
//! each segment is reduced to its *normalised skeleton* (rule 6) and every derived form of the
//! key is checked again (rule 7). The rules, checked in order:
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
//!      BOM, the soft hyphen, the Arabic letter mark, the Mongolian vowel separator,
//!      interlinear annotation marks, tag characters, ...), Zl and Zp (U+2028, U+2029), plus
//!      the whole Tags block U+E0000–U+E007F, whose unassigned code points can only ever
//!      become tags. The categories come from the `unicode-general-category` crate's Unicode
//!      tables, not from a hand-written list. This rejects emoji ZWJ sequences too: a key is
//!      not a place for them;
//! 4. no `*` or `?`: CloudFront treats `*` as a wildcard, and `?` starts a query string;
//! 5. no `.` or `..` segment, no segment made only of dots (`...`: Windows path APIs and
//!    IIS-style origins trim trailing dots, turning it into `..`) and no empty segment (`a//b`,
//!    trailing `/`), splitting on `/` and on `\` (which some clients treat as `/`);
//! 6. no segment whose normalised skeleton is empty or made only of dots. The skeleton is what
//!    is left after every [`SegmentStep`], round after round until nothing changes:
//!    - dropping a `;` path parameter (`..;jsessionid=x` is `..` to Tomcat, Jetty and other
//!      servlet containers, and to proxies that follow them);
//!    - dropping an NTFS stream suffix (`..::$DATA` is `..` to Windows);
//!    - removing default-ignorable code points (Unicode's `Default_Ignorable_Code_Point`
//!      property, from the `icu_properties` crate's data: U+3164 HANGUL FILLER, U+115F,
//!      U+FFA0, U+034F COMBINING GRAPHEME JOINER, variation selectors, ...), which render as
//!      nothing and which search, comparison and normalisation code routinely drops;
//!    - Unicode NFKC (`．`, `‥`, `︰` are dots);
//!    - removing combining marks (general categories Mn, Mc, Me: `.\u{301}` is `.` to any
//!      accent-folding normaliser);
//!    - trimming leading and trailing whitespace (Unicode `White_Space`, NBSP included);
//!    - trimming trailing dots and whitespace, as Windows path APIs do (`. .` is empty there).
//!
//!    A step that makes the segment empty or dots-only is named in the error. A skeleton can
//!    only end that way if some order of these steps does (each step only removes characters,
//!    or maps look-alikes to what they look like), so a normaliser that does fewer of them, or
//!    does them in another order, sees no `.` or `..` in an accepted key either. So a segment
//!    made only of dots, whitespace, marks and invisible characters, or one that starts with
//!    `;` or `:` (an empty name once the parameter or stream is dropped), is refused;
//! 7. rules 3–6 again on every form a client, CDN, origin or normaliser may turn the whole key
//!    into (these can create new separators, so they apply to the key, not to one segment).
//!    Every form reachable from the key by any sequence of these, in any order, is checked:
//!    - Unicode NFKC, which turns compatibility look-alikes into the real thing: `．`, `‥`,
//!      `︰` (→ `..`), `︙` (→ `...`), `／`, `＼`, `＊`, `﹡`, `？`, `﹖`, `％` (so `％2e％2e`
//!      becomes `%2e%2e`), ...;
//!    - folding the look-alikes of `/` and `\` that NFKC keeps (`∕`, `⁄`, `⧸`, `⧵`, `⧹`), which
//!      careless normalisers and humans read as separators;
//!    - lenient percent-decoding ([`percent_decode_leniently`]): standard `%XX`
//!      escapes, IIS's `%uXXXX` (`%u002e`, `%U002E`), and the UTF-8 that lenient decoders
//!      accept although it is invalid: overlong forms (`%c0%ae`, `%e0%80%ae` are `.`, `%c0%af`
//!      is `/`) and surrogates encoded one by one. `%2e%2e`, `%2F`, `%00`, `%2A` are
//!      smuggling, not names.
//!
//!    A side effect, accepted on purpose: symbols whose NFKC form holds `?` or `*` (`⁇`, `⁉`)
//!    are rejected too, since a normalising client would send a query string.
//!
//!    Forms are followed until no new one appears, so `%252e%252e` and `%25c0%25ae`
//!    (double-encoded) and `%EF%BC%8E` (an encoded `．`) are caught; a key that still changes
//!    after [`MAX_DECODE_ROUNDS`] percent-decodings is rejected rather than trusted. The key
//!    itself is never changed: the forms are only checked.
//!
//! Ordinary keys are unaffected: letters of any script (`café.jpg`, `日本.jpg`), emoji (`😀.jpg`,
//! `❤️.jpg` with its variation selector), ideographic variation sequences, spaces, `+`, `~`,
//! `;` or `:` after a name (`a;b.jpg`, `12:30.jpg`), leading dots before a name (`..foo`,
//! `.hidden`: nothing trims leading dots, so no normaliser turns them into `..`), trailing dots
//! after a name (`foo.`, `e..`: trimmed, they leave `foo`, `e`), a `%` that is not an escape
//! (`100%.jpg`) and escapes of ordinary characters all pass.
//!
//! Then the key must start with `PURGE_KEY_PREFIX` ([`KeySafetyError::KeyOutsidePrefix`]);
//! since `..` can't appear in any form, a prefix match is a real containment check.
//!
//! Every check of a key or of a replayed CDN path goes through [`check_key`]: ValidateRecords
//! (new and replayed targets), the trigger's cost estimate, `PURGE_KEY_PREFIX` at config load
//! and BatchPaths' check of replayed invalidation paths.

use std::borrow::Cow;
use std::collections::HashSet;

use icu_properties::CodePointSetData;
use icu_properties::props::DefaultIgnorableCodePoint;
use thiserror::Error;
use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// S3's maximum key length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// How many percent-decodings in a row rule 7 follows before it gives up on a key that keeps
/// changing. Real keys settle after one; each extra one is one more level of `%25`.
pub const MAX_DECODE_ROUNDS: usize = 4;

/// How many rounds of [`SegmentStep`]s rule 6 applies before it gives up on a segment that
/// keeps changing. Every real segment settles in the first round (the second only confirms);
/// one whose NFKC form holds a new `;` (`；`) needs one more.
const MAX_SKELETON_ROUNDS: usize = 4;

/// How many distinct derived forms rule 7 checks before it refuses a key. A real key has a
/// handful (itself, its NFKC form, its decoded form); each `%25` level adds a few.
const MAX_DERIVED_FORMS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeySafetyError {
    /// `why` names the rule, and for a normalised form the normalisation that revealed it.
    #[error("unsafe key {key:?}: {why}")]
    UnsafeKey { key: String, why: String },
    #[error("key {key:?} is outside the allowed prefix {prefix:?}")]
    KeyOutsidePrefix { key: String, prefix: String },
}

/// Checks `key` against every rule, then against `prefix` (empty: the whole bucket).
pub fn check_key(key: &str, prefix: &str) -> Result<(), KeySafetyError> {
    check_key_rules(key)?;
    check_prefix(key, prefix)
}

/// The key rules alone (rules 1–7), without the prefix: [`KeySafetyError::UnsafeKey`].
pub fn check_key_rules(key: &str) -> Result<(), KeySafetyError> {
    let unsafe_key = |why: String| KeySafetyError::UnsafeKey {
        key: shorten(key),
        why,
    };
    if key.is_empty() {
        return Err(unsafe_key("empty".to_owned()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(unsafe_key("longer than 1024 bytes".to_owned()));
    }
    if key.starts_with('/') {
        return Err(unsafe_key("starts with `/`".to_owned()));
    }
    check_form(key).map_err(unsafe_key)?;
    check_derived_forms(key).map_err(unsafe_key)
}

/// The prefix alone: [`KeySafetyError::KeyOutsidePrefix`]. A containment check only for a key
/// that passed [`check_key_rules`] (no `..` in any form).
pub fn check_prefix(key: &str, prefix: &str) -> Result<(), KeySafetyError> {
    if key.starts_with(prefix) {
        Ok(())
    } else {
        Err(KeySafetyError::KeyOutsidePrefix {
            key: shorten(key),
            prefix: prefix.to_owned(),
        })
    }
}

/// Rule 7: rules 3–6 on every normalised, folded and percent-decoded form of `key`, round after
/// round until a fixed point. The error names the transformation that revealed the problem.
fn check_derived_forms(key: &str) -> Result<(), String> {
    // Most keys are ASCII without a `%`, and such a key is each of its own derived forms: ASCII
    // is its own NFKC form and holds no look-alike, and there is nothing to decode. The first
    // round below would find nothing changed; this skips its three copies of the key.
    if key.is_ascii() && !key.contains('%') {
        return Ok(());
    }
    check_derived_forms_round_by_round(key)
}

/// Rule 7 the long way, for any key: every form reachable from `key` by any sequence of the
/// [`KeyTransform`]s, in any order (a server that decodes before it normalises sees another
/// form than one that normalises first: NFKC composes the `e` of `%ae` with a following
/// combining accent), each checked once.
fn check_derived_forms_round_by_round(key: &str) -> Result<(), String> {
    let mut seen = HashSet::from([key.to_owned()]);
    // Each form with the number of percent-decodings that led to it.
    let mut pending = vec![(key.to_owned(), 0)];
    while let Some((form, decodings)) = pending.pop() {
        for transform in KeyTransform::ALL {
            let derived = transform.apply(&form);
            if seen.contains(derived.as_ref()) {
                continue;
            }
            let decodings = decodings + usize::from(transform == KeyTransform::PercentDecode);
            if decodings > MAX_DECODE_ROUNDS {
                // Nested deeper than any real key would be, and a client that decodes once
                // more might see anything.
                return Err(format!(
                    "still changes after {MAX_DECODE_ROUNDS} rounds of percent-decoding (nested \
                     encoding)"
                ));
            }
            check_form(&derived).map_err(|problem| transform.explain(&problem))?;
            if seen.len() >= MAX_DERIVED_FORMS {
                return Err(format!(
                    "has more than {MAX_DERIVED_FORMS} distinct normalised and decoded forms"
                ));
            }
            let derived = derived.into_owned();
            seen.insert(derived.clone());
            pending.push((derived, decodings));
        }
    }
    Ok(())
}

/// A rewrite of the whole key (rule 7): these can create separators, so they apply to the
/// key, before it is split into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyTransform {
    Nfkc,
    FoldSeparators,
    PercentDecode,
}

impl KeyTransform {
    const ALL: [KeyTransform; 3] = [
        KeyTransform::Nfkc,
        KeyTransform::FoldSeparators,
        KeyTransform::PercentDecode,
    ];

    fn apply(self, form: &str) -> Cow<'_, str> {
        match self {
            KeyTransform::Nfkc => nfkc(form),
            KeyTransform::FoldSeparators => fold_separator_lookalikes(form),
            KeyTransform::PercentDecode => percent_decode_leniently(form),
        }
    }

    /// The error for a problem found in a form this transformation produced.
    fn explain(self, problem: &str) -> String {
        match self {
            KeyTransform::Nfkc => {
                format!("its Unicode NFKC form (a compatibility look-alike) {problem}")
            }
            KeyTransform::FoldSeparators => {
                format!("read with Unicode look-alikes of `/` or `\\` as separators, it {problem}")
            }
            KeyTransform::PercentDecode => format!(
                "percent-encoded: decoded as lenient servers decode it (`%XX`, IIS `%uXXXX`, \
                 overlong UTF-8), it {problem}"
            ),
        }
    }
}

/// NFKC, skipping the work for ASCII (its own NFKC form), which most keys are.
fn nfkc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// Rules 3–6 on one form of the key.
fn check_form(form: &str) -> Result<(), String> {
    // An ASCII character is either a control or an XML character that is neither a
    // noncharacter nor invisible (`ascii_characters_need_only_the_control_check` checks all
    // 128), so an ASCII key needs only the control check; the Unicode tables are for the rest.
    let ascii = form.is_ascii();
    if form.chars().any(char::is_control) {
        return Err("contains a control character".to_owned());
    }
    if !ascii && form.chars().any(|c| !is_xml_char(c) || is_noncharacter(c)) {
        return Err(
            "contains a character XML 1.0 forbids or a Unicode noncharacter \
                    (it would make the DeleteObjects request body invalid)"
                .to_owned(),
        );
    }
    if !ascii && form.chars().any(is_invisible) {
        return Err(
            "contains an invisible character (Unicode format character, line or \
                    paragraph separator: zero-width, bidi control, BOM, soft hyphen, tag, ...)"
                .to_owned(),
        );
    }
    if form.contains(['*', '?']) {
        return Err("contains `*` or `?` (a CloudFront wildcard or a query string)".to_owned());
    }
    for segment in form.split(['/', '\\']) {
        match segment {
            ".." => return Err("has a `..` segment".to_owned()),
            "." => return Err("has a `.` segment".to_owned()),
            "" => {
                return Err(
                    "has an empty segment (`//`, a leading `\\` or a trailing `/`)".to_owned(),
                );
            }
            // Windows path APIs and IIS-style origins trim trailing dots, so `...` is `..` there.
            dots if is_dots_or_empty(dots) => {
                return Err(
                    "has a segment made only of dots (`...` is `..` to some servers)".to_owned(),
                );
            }
            _ => {}
        }
        check_skeleton(segment)?;
    }
    Ok(())
}

/// Rule 6 for one segment (already known not to be empty or only dots): its normalised
/// skeleton must not be either. The error names the step that made it so.
fn check_skeleton(segment: &str) -> Result<(), String> {
    let mut form = Cow::Borrowed(segment);
    for _ in 0..MAX_SKELETON_ROUNDS {
        let mut changed = false;
        for step in SegmentStep::ALL {
            let next = step.apply(&form);
            if *next == *form {
                continue;
            }
            form = Cow::Owned(next.into_owned());
            changed = true;
            if is_dots_or_empty(&form) {
                let became = match &*form {
                    "" => "empty",
                    "." => "`.`",
                    ".." => "`..`",
                    _ => "only dots",
                };
                return Err(format!(
                    "has a segment {:?} that is {became} {}",
                    shorten(segment),
                    step.describe()
                ));
            }
        }
        if !changed {
            return Ok(());
        }
    }
    Err(format!(
        "has a segment {:?} that still changes after {MAX_SKELETON_ROUNDS} rounds of \
         normalisation",
        shorten(segment)
    ))
}

fn is_dots_or_empty(segment: &str) -> bool {
    segment.bytes().all(|b| b == b'.')
}

/// One way an origin, proxy, OS or normaliser rewrites a path segment on its own (rule 6).
/// Each either cuts the segment or maps characters to what they look like; none adds a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentStep {
    PathParameter,
    NtfsStream,
    DefaultIgnorable,
    Nfkc,
    CombiningMarks,
    Whitespace,
    WindowsTrailing,
}

impl SegmentStep {
    /// In the order rule 6 applies them.
    pub const ALL: [SegmentStep; 7] = [
        SegmentStep::PathParameter,
        SegmentStep::NtfsStream,
        SegmentStep::DefaultIgnorable,
        SegmentStep::Nfkc,
        SegmentStep::CombiningMarks,
        SegmentStep::Whitespace,
        SegmentStep::WindowsTrailing,
    ];

    /// The segment as a server doing only this step would see it. Borrowed when the step only
    /// cuts the segment (or leaves it alone).
    pub fn apply(self, segment: &str) -> Cow<'_, str> {
        match self {
            SegmentStep::PathParameter => Cow::Borrowed(cut_at(segment, ';')),
            SegmentStep::NtfsStream => Cow::Borrowed(cut_at(segment, ':')),
            SegmentStep::DefaultIgnorable => remove_chars(segment, is_default_ignorable),
            SegmentStep::Nfkc => nfkc(segment),
            SegmentStep::CombiningMarks => remove_chars(segment, is_combining_mark),
            SegmentStep::Whitespace => Cow::Borrowed(segment.trim()),
            SegmentStep::WindowsTrailing => {
                Cow::Borrowed(segment.trim_end_matches(|c: char| c == '.' || c.is_whitespace()))
            }
        }
    }

    /// How the step made a segment unsafe, for the error.
    fn describe(self) -> &'static str {
        match self {
            SegmentStep::PathParameter => {
                "once its `;` path parameter is dropped (Tomcat, Jetty and other servlet \
                 containers drop `;...` from each segment)"
            }
            SegmentStep::NtfsStream => {
                "once its NTFS stream suffix (`:` and what follows, as in `::$DATA`) is dropped, \
                 as Windows does"
            }
            SegmentStep::DefaultIgnorable => {
                "once its default-ignorable code points (Unicode Default_Ignorable_Code_Point: \
                 invisible characters such as U+3164 HANGUL FILLER, U+034F or a variation \
                 selector) are removed"
            }
            SegmentStep::Nfkc => "in its Unicode NFKC form (a compatibility look-alike)",
            SegmentStep::CombiningMarks => {
                "once its combining marks (Unicode Mn, Mc, Me) are stripped, as accent-folding \
                 normalisers do"
            }
            SegmentStep::Whitespace => {
                "once leading and trailing whitespace (Unicode White_Space, NBSP included) is \
                 trimmed"
            }
            SegmentStep::WindowsTrailing => {
                "once trailing dots and spaces are trimmed, as Windows path APIs and IIS do"
            }
        }
    }
}

/// `segment` up to the first `separator`.
fn cut_at(segment: &str, separator: char) -> &str {
    segment.split(separator).next().unwrap_or(segment)
}

fn remove_chars(text: &str, remove: impl Fn(char) -> bool) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(&remove) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| !remove(c)).collect())
}

/// Unicode's `Default_Ignorable_Code_Point` property (UAX #44; DerivedCoreProperties.txt), from
/// the `icu_properties` crate's compiled Unicode data (already in the dependency tree through
/// the AWS SDK's URL handling). No ASCII character has it.
pub fn is_default_ignorable(c: char) -> bool {
    !c.is_ascii() && CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

fn is_combining_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
    )
}

/// One round of percent-decoding as the most lenient common decoders do it, so that what any
/// of them could read is checked:
/// - `%XX` gives a byte; `%uXXXX` / `%UXXXX` (IIS) gives a UTF-16 code unit, and a high and a
///   low surrogate in a row give one character;
/// - the bytes are then read as UTF-8 accepting what strict decoders refuse: overlong forms
///   (`C0 AE`, `E0 80 AE`, `F0 80 80 AE` are all `.`), the 5- and 6-byte forms of the original
///   UTF-8 (RFC 2279), and surrogates encoded one by one (CESU-8). Anything else invalid is
///   U+FFFD, as in a lossy decode.
///
/// Everything that is not an escape is kept as it is.
pub fn percent_decode_leniently(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut units = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(unit) = iis_escape(&bytes[i + 1..]) {
                // Collect a run of %uXXXX, so that surrogate pairs meet.
                units.clear();
                units.push(unit);
                i += 6;
                while i < bytes.len()
                    && bytes[i] == b'%'
                    && let Some(unit) = iis_escape(&bytes[i + 1..])
                {
                    units.push(unit);
                    i += 6;
                }
                for c in char::decode_utf16(units.iter().copied()) {
                    let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                    decoded.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                continue;
            }
            if let (Some(high), Some(low)) = (
                bytes.get(i + 1).and_then(|&b| hex_value(b)),
                bytes.get(i + 2).and_then(|&b| hex_value(b)),
            ) {
                decoded.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(decode_utf8_leniently(&decoded))
}

/// `uXXXX` or `UXXXX` at the start of `rest` (what follows a `%`): the code unit.
fn iis_escape(rest: &[u8]) -> Option<u16> {
    let (marker, digits) = rest.split_first()?;
    if !matches!(marker, b'u' | b'U') || digits.len() < 4 {
        return None;
    }
    digits[..4].iter().try_fold(0u16, |unit, &b| {
        hex_value(b).map(|digit| unit << 4 | u16::from(digit))
    })
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Reads `bytes` as UTF-8 the way lenient decoders do (see [`percent_decode_leniently`]).
fn decode_utf8_leniently(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut pending_high_surrogate: Option<u32> = None;
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        let (length, initial) = match lead {
            0x00..=0x7F => (1, u32::from(lead)),
            0xC0..=0xDF => (2, u32::from(lead & 0x1F)),
            0xE0..=0xEF => (3, u32::from(lead & 0x0F)),
            0xF0..=0xF7 => (4, u32::from(lead & 0x07)),
            0xF8..=0xFB => (5, u32::from(lead & 0x03)),
            0xFC..=0xFD => (6, u32::from(lead & 0x01)),
            // A stray continuation byte, 0xFE or 0xFF.
            _ => (0, 0),
        };
        let continuation = bytes
            .get(i + 1..i + length.max(1))
            .filter(|tail| tail.iter().all(|&b| b & 0xC0 == 0x80));
        let value = match (length, continuation) {
            (0, _) | (_, None) => {
                i += 1;
                None
            }
            (_, Some(tail)) => {
                i += length;
                Some(
                    tail.iter()
                        .fold(initial, |value, &b| value << 6 | u32::from(b & 0x3F)),
                )
            }
        };
        // A high surrogate waits for the low one that may follow it.
        if let Some(high) = pending_high_surrogate.take() {
            if let Some(low @ 0xDC00..=0xDFFF) = value {
                let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                text.push(char::from_u32(combined).unwrap_or(char::REPLACEMENT_CHARACTER));
                continue;
            }
            text.push(char::REPLACEMENT_CHARACTER);
        }
        match value {
            Some(high @ 0xD800..=0xDBFF) => pending_high_surrogate = Some(high),
            Some(value) => {
                text.push(char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            None => text.push(char::REPLACEMENT_CHARACTER),
        }
    }
    if pending_high_surrogate.is_some() {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
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
/// its visible name: general categories Cf, Zl and Zp, and the whole Tags block. (The other
/// default-ignorable code points, such as variation selectors, are part of legitimate names
/// like `❤️.jpg`; rule 6 removes them only to see what a segment reduces to.)
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

    // Rule 6: segments a server, proxy or OS normalises to `.` or `..` (or to nothing). Each
    // table names the step the error must blame. Every key here was accepted before rule 6.
    #[track_caller]
    fn assert_all_unsafe_because(keys: &[&str], fragment: &str) {
        for key in keys {
            assert_unsafe_because(key, fragment);
        }
    }

    #[test]
    fn dot_segments_with_path_parameters_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/..;/secret",
                "images/..;jsessionid=x/secret",
                "images/.;/secret",
                "images/...;a=b;c=d/secret",
                "images\\..;\\secret",
                // Only a parameter: an empty segment once it is dropped.
                "images/;jsessionid=x/a.jpg",
            ],
            "`;` path parameter",
        );
    }

    #[test]
    fn dot_segments_with_ntfs_streams_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/..::$DATA/secret",
                "images/.:x/secret",
                "images/:x/a.jpg",
            ],
            "NTFS stream",
        );
    }

    #[test]
    fn dot_segments_padded_with_whitespace_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/.. /secret",
                "images/ ../secret",
                "images/..\u{A0}/secret",      // NBSP
                "images/\u{3000}..\u{3000}/x", // ideographic space
                "images/..\u{2003}\u{202F}/x", // em space, narrow NBSP
                "images/ /a.jpg",              // nothing but a space
            ],
            "whitespace",
        );
    }

    #[test]
    fn dots_and_spaces_windows_trims_away_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/. ./secret",
                "images/.. . ./secret",
                "images/. \u{A0}./x",
            ],
            "Windows",
        );
    }

    #[test]
    fn dots_with_combining_marks_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/.\u{301}/secret", // combining acute accent (Mn)
                "images/.\u{301}.\u{301}/secret",
                "images/..\u{20DD}/secret", // combining enclosing circle (Me)
                "images/.\u{903}./secret",  // Devanagari sign visarga (Mc)
                "images/\u{301}\u{302}/a.jpg", // marks on nothing
            ],
            "combining marks",
        );
    }

    #[test]
    fn dots_with_default_ignorable_code_points_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/..\u{3164}/secret",  // HANGUL FILLER (Lo)
                "images/.\u{115F}./secret",  // HANGUL CHOSEONG FILLER (Lo)
                "images/\u{FFA0}../secret",  // HALFWIDTH HANGUL FILLER (Lo)
                "images/.\u{34F}./secret",   // COMBINING GRAPHEME JOINER (Mn)
                "images/..\u{FE0F}/secret",  // VARIATION SELECTOR-16 (Mn)
                "images/..\u{E0100}/secret", // VARIATION SELECTOR-17 (Mn)
                "images/.\u{180B}./secret",  // MONGOLIAN FREE VARIATION SELECTOR ONE
                "images/..\u{17B4}/secret",  // KHMER VOWEL INHERENT AQ
                "images/\u{3164}/a.jpg",     // an invisible segment
            ],
            "default-ignorable",
        );
        // The default-ignorable format characters (soft hyphen, Mongolian vowel separator,
        // tags, ...) are general category Cf: rule 3 refuses them anywhere, first.
        for key in [
            "images/..\u{AD}/secret",
            "images/..\u{180E}/secret",
            "images/..\u{E0041}/secret",
        ] {
            assert_unsafe_because(key, "invisible");
        }
    }

    #[test]
    fn overlong_utf8_percent_forms_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/%c0%ae%c0%ae/secret",
                "images/%C0%AE%C0%AE/secret",
                "images/%e0%80%ae%e0%80%ae/secret",
                "images/%f0%80%80%ae./secret",
                "images/.%f8%80%80%80%ae/secret",
                // Two levels: `%25` decodes to `%`, then the overlong form to `.`.
                "images/%25c0%25ae%25c0%25ae/secret",
                // Overlong `/` and `\` make new separators.
                "images/..%c0%afsecret",
                "images/x%c0%af..%c0%afsecret",
                "images/..%c1%9csecret",
            ],
            "percent-encoded",
        );
    }

    #[test]
    fn iis_percent_u_forms_are_unsafe() {
        assert_all_unsafe_because(
            &[
                "images/%u002e%u002e/secret",
                "images/%U002E%U002E/secret",
                "images/%u002E./secret",
                "images/%25u002e%25u002e/secret",
                "images/..%u002fsecret",
                "images/..%u005csecret",
                "images/%uff0e%uff0e/secret", // fullwidth full stops, then NFKC
            ],
            "percent-encoded",
        );
    }

    #[test]
    fn decorations_behind_other_normalisations_are_unsafe() {
        // Encoded `;`, a fullwidth `；` (NFKC), a decoded NBSP, an encoded combining mark.
        for key in [
            "images/%2e%2e%3bx/secret",
            "images/\u{FF0E}\u{FF0E}\u{FF1B}x/secret",
            "images/..%c2%a0/secret",
            "images/.%cc%81/secret",
            "images/..%e3%85%a4/secret", // U+3164, encoded
        ] {
            assert_unsafe(key);
        }
    }

    #[test]
    fn keys_that_normalise_to_names_are_still_safe() {
        for key in [
            "café.jpg",
            "cafe\u{301}.jpg",
            "a.b.c",
            "images/..foo", // nothing trims leading dots: never `..`
            "images/.hidden",
            "images/...foo",
            "images/foo.", // Windows trims it to `foo`: a name
            "images/foo. .",
            "images/. a",
            "日本語/写真 1.jpg",
            "画像/葛\u{E0100}城.jpg", // ideographic variation sequence
            "images/😀.jpg",
            "images/❤\u{FE0F}.jpg",    // emoji with its variation selector
            "images/한글\u{3164}.jpg", // a filler inside a name is not a dot segment
            "images/a;b.jpg",
            "images/12:30.jpg",
            "images/%u00e9.jpg", // é, by IIS escape
            "images/%c3%a9.jpg",
            "images/%c1%81.jpg", // an overlong `A`: a name however it is read
            "images/100%use.jpg",
            "images/%uzzzz.jpg",
            "images/a%c0.jpg",
        ] {
            assert_eq!(check_key(key, ""), Ok(()), "{key}");
        }
    }

    #[test]
    fn unsafe_segment_errors_name_the_segment_and_the_step() {
        let err = check_key("images/..;jsessionid=x/secret", "")
            .expect_err("unsafe")
            .to_string();
        assert!(
            err.contains(r#"segment "..;jsessionid=x" that is `..` once its `;` path parameter"#),
            "{err}"
        );
        let err = check_key("images/%c0%ae%c0%ae/secret", "")
            .expect_err("unsafe")
            .to_string();
        assert!(err.contains("overlong UTF-8"), "{err}");
        assert!(err.contains("has a `..` segment"), "{err}");
    }

    // The lenient decoder on its own.
    #[test]
    fn lenient_decoding_reads_what_lenient_servers_read() {
        for (encoded, decoded) in [
            ("%2e", "."),
            ("%c0%ae", "."),
            ("%e0%80%ae", "."),
            ("%f0%80%80%ae", "."),
            ("%f8%80%80%80%ae", "."),
            ("%fc%80%80%80%80%ae", "."),
            ("%c0%af", "/"),
            ("%u002e", "."),
            ("%U002E", "."),
            ("%ud83d%ude00", "😀"),
            ("%ed%a0%bd%ed%b8%80", "😀"), // CESU-8
            ("%c3%a9", "é"),
            ("%ff", "\u{FFFD}"),
            ("%c0.", "\u{FFFD}."),
            ("%ud83d", "\u{FFFD}"),
            ("%e0%80", "\u{FFFD}\u{FFFD}"),
            ("%zz%u12", "%zz%u12"),
            ("a%", "a%"),
            ("日本%2e", "日本."),
        ] {
            assert_eq!(percent_decode_leniently(encoded), decoded, "{encoded}");
        }
    }

    // Default_Ignorable_Code_Point, cross-checked against the general categories it is derived
    // from (UAX #44: Other_Default_Ignorable_Code_Point + Cf + Variation_Selector - White_Space
    // - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark), so a wrong or empty table
    // can't pass.
    #[test]
    fn default_ignorable_agrees_with_the_general_categories() {
        use icu_properties::props::{PrependedConcatenationMark, VariationSelector};
        let prepended = CodePointSetData::new::<PrependedConcatenationMark>();
        let selector = CodePointSetData::new::<VariationSelector>();
        let mut format_characters = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let category = get_general_category(c);
            if category == GeneralCategory::Format {
                format_characters += 1;
                let excluded = prepended.contains(c)
                    || ('\u{FFF9}'..='\u{FFFB}').contains(&c)
                    || ('\u{13430}'..='\u{1343F}').contains(&c);
                assert_eq!(is_default_ignorable(c), !excluded, "U+{:04X}", u32::from(c));
            }
            if selector.contains(c) {
                assert!(is_default_ignorable(c), "U+{:04X}", u32::from(c));
            }
            if is_default_ignorable(c) {
                assert!(!c.is_whitespace(), "U+{:04X}", u32::from(c));
                // Assigned default-ignorables are format characters, marks or the fillers.
                assert!(
                    matches!(
                        category,
                        GeneralCategory::Format
                            | GeneralCategory::NonspacingMark
                            | GeneralCategory::OtherLetter
                            | GeneralCategory::Unassigned
                    ),
                    "U+{:04X} is {category:?}",
                    u32::from(c)
                );
            }
        }
        assert!(format_characters > 150, "{format_characters}");
        // The ones the issue names, and the size of the property in Unicode 16 (4,174 code
        // points: the E0000–E0FFF block alone is 4,096).
        for c in [
            '\u{3164}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{34F}',
            '\u{180E}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{E0041}',
            '\u{AD}',
            '\u{200B}',
        ] {
            assert!(is_default_ignorable(c), "U+{:04X}", u32::from(c));
        }
        let count = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| is_default_ignorable(c))
            .count();
        assert!((4174..4300).contains(&count), "{count}");
        for c in ['a', '.', ' ', '\u{A0}', '\u{3000}', 'é', '日', '\u{301}'] {
            assert!(!is_default_ignorable(c), "U+{:04X}", u32::from(c));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use percent_encoding::percent_decode_str;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the key, the check answers; and an accepted key never holds a `..` segment,
        /// a wildcard, a control, invisible or XML-invalid character, in its raw, decoded
        /// (strictly or leniently), NFKC or NFKC-then-decoded form, and no segment of any of
        /// these forms reaches `.`, `..` or nothing under any single normaliser of rule 6 or
        /// all of them in a row.
        #[test]
        fn never_panics_and_never_accepts_traversal(key in "\\PC{0,40}|\\PC{0,3}[\\p{Cf}\\u{FFFE}\\u{FFFF}]\\PC{0,3}|[./%2eE5\\\\*?a-c\\u{FE30}\\u{FF0E}\\u{FF05}\\u{FF0A}\\u{FF1F}\\u{2215}]{0,12}|[./%2eEacu0 ;:\\u{A0}\\u{3164}\\u{301}\\u{FE0F}]{0,16}") {
            if check_key(&key, "").is_ok() {
                prop_assert!(!key.is_empty() && !key.starts_with('/'));
                prop_assert!(!key.contains(['*', '?']));
                prop_assert!(!key.chars().any(char::is_control));
                let decoded = percent_decode_str(&key).decode_utf8_lossy().into_owned();
                let leniently_decoded = percent_decode_leniently(&key).into_owned();
                let normalised = nfkc(&key).into_owned();
                let normalised_decoded = percent_decode_str(&normalised).decode_utf8_lossy().into_owned();
                for form in [&key, &decoded, &leniently_decoded, &normalised, &normalised_decoded] {
                    prop_assert!(!form.split(['/', '\\']).any(|s| s == ".." || s == "."), "{form}");
                    prop_assert!(!form.contains(['*', '?']), "{form}");
                    prop_assert!(!form.chars().any(|c| is_invisible(c) || !is_xml_char(c) || is_noncharacter(c)), "{form}");
                    for segment in form.split(['/', '\\']) {
                        for step in MODEL_STEPS {
                            prop_assert!(!is_dot_like(&step(segment)), "{form}: {segment:?}");
                        }
                        let all = MODEL_STEPS.iter().fold(segment.to_owned(), |s, step| step(&s));
                        prop_assert!(!is_dot_like(&all), "{form}: {segment:?}");
                    }
                }
            }
        }

        /// Rule 6 against any normaliser: whatever sequence of the normalisations (any subset,
        /// any order, repeated) a server applies to a segment, if it ends with `.`, `..`, only
        /// dots or nothing, the key is refused.
        #[test]
        fn any_normaliser_that_finds_a_dot_segment_is_refused(
            segment in "[. ;:a\\u{A0}\\u{3000}\\u{301}\\u{903}\\u{3164}\\u{FE0F}\\u{34F}\\u{FFA0}\\u{FF0E}\\u{2025}\\u{FF1B}\\u{115F}]{1,8}",
            order in prop::collection::vec(0..MODEL_STEPS.len(), 0..12),
        ) {
            let normalised = order.iter().fold(segment.clone(), |s, &step| MODEL_STEPS[step](&s));
            if is_dot_like(&normalised) {
                let key = format!("images/{segment}/x.jpg");
                prop_assert!(
                    matches!(check_key(&key, ""), Err(KeySafetyError::UnsafeKey { .. })),
                    "{key:?} normalises to {normalised:?} by {order:?}"
                );
            }
        }

        /// A dot core (`.`, `..`, `...`, or their look-alikes) decorated with any mix of marks,
        /// default-ignorables, surrounding whitespace, trailing dots and spaces, a `;`
        /// parameter or an NTFS stream, then percent-encoded in any of the ways lenient
        /// servers decode (or not at all) and nested under up to two levels of `%25`, is
        /// refused.
        #[test]
        fn decorated_dot_segments_are_refused(
            dots in prop::collection::vec(("[.\\u{FF0E}\\u{FE52}\\u{2024}]", "[\\u{301}\\u{20DD}\\u{903}\\u{3164}\\u{FE0F}\\u{34F}\\u{115F}\\u{FFA0}\\u{E0100}]{0,2}"), 1..4),
            leading in "[ \\u{A0}\\u{3000}\\u{2003}]{0,2}",
            trailing in "[ .\\u{A0}]{0,3}",
            suffix in "|;[a-z=]{0,6}|:[a-z$]{0,6}",
            encoding in 0..4usize,
            levels in 0..3usize,
        ) {
            let core: String = dots.iter().map(|(dot, decoration)| format!("{dot}{decoration}")).collect();
            let segment = format!("{leading}{core}{trailing}{suffix}");
            let mut encoded = encode(&segment, encoding);
            for _ in 0..levels {
                encoded = encoded.replace('%', "%25");
            }
            let key = format!("images/{encoded}/x.jpg");
            prop_assert!(
                matches!(check_key(&key, ""), Err(KeySafetyError::UnsafeKey { .. })),
                "{key:?} ({segment:?}) was accepted"
            );
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

    /// The normalisations of rule 6, written again independently of [`SegmentStep`] so the
    /// properties can compose them in any order.
    const MODEL_STEPS: [fn(&str) -> String; 7] = [
        |s| s.split(';').next().unwrap_or_default().to_owned(),
        |s| s.split(':').next().unwrap_or_default().to_owned(),
        |s| {
            let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
            s.chars().filter(|&c| !ignorable.contains(c)).collect()
        },
        |s| s.nfkc().collect(),
        |s| {
            s.chars()
                .filter(|&c| {
                    !matches!(
                        get_general_category(c),
                        GeneralCategory::NonspacingMark
                            | GeneralCategory::SpacingMark
                            | GeneralCategory::EnclosingMark
                    )
                })
                .collect()
        },
        |s| s.trim().to_owned(),
        |s| {
            s.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
                .to_owned()
        },
    ];

    fn is_dot_like(segment: &str) -> bool {
        segment.chars().all(|c| c == '.')
    }

    /// `segment` as a client could encode it: 0 as is, 1 every byte `%XX`, 2 every `.` as
    /// overlong UTF-8 (2, 3 or 4 bytes, by position), 3 every UTF-16 unit as IIS `%uXXXX`.
    fn encode(segment: &str, encoding: usize) -> String {
        match encoding {
            1 => segment.bytes().map(|b| format!("%{b:02X}")).collect(),
            2 => segment
                .chars()
                .enumerate()
                .map(|(i, c)| match (c, i % 3) {
                    ('.', 0) => "%c0%ae".to_owned(),
                    ('.', 1) => "%E0%80%AE".to_owned(),
                    ('.', _) => "%f0%80%80%ae".to_owned(),
                    (c, _) => c.to_string(),
                })
                .collect(),
            3 => segment
                .encode_utf16()
                .map(|u| format!("%u{u:04x}"))
                .collect(),
            _ => segment.to_owned(),
        }
    }
}
