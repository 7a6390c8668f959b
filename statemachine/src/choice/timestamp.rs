//! Timestamps as AWS parses them: Java's `DateTimeFormatter.ISO_OFFSET_DATE_TIME` (AWS's own
//! causes call it "ISO-8601 extended offset date-time format").
//!
//! That format is `YYYY-MM-DDTHH:MM[:SS[.fraction]]` plus an offset `Z` or `±HH:MM[:SS]`,
//! parsed case-insensitively. Unlike RFC 3339 (chrono's parser), seconds are optional, and a
//! space instead of `T` is not accepted (recorded: "2016-12-05 21:29:29Z" is rejected, as are
//! "2016-12-05T21:29:29" without an offset, month 13 and hour 25).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

/// Parses a timestamp; `None` when `text` is not one.
pub(crate) fn parse(text: &str) -> Option<DateTime<FixedOffset>> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    if !matches!(cursor.next()?, b'T' | b't') {
        return None;
    }
    let hour = cursor.digits(2)?;
    cursor.expect(b':')?;
    let minute = cursor.digits(2)?;
    let (mut second, mut nanos) = (0, 0);
    if cursor.peek() == Some(b':') {
        cursor.pos += 1;
        second = cursor.digits(2)?;
        if cursor.peek() == Some(b'.') {
            cursor.pos += 1;
            nanos = cursor.fraction()?;
        }
    }
    let offset_seconds = cursor.offset()?;
    if cursor.pos != cursor.bytes.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // Java allows no leap second (60) here, and neither does from_hms_nano_opt below 60.
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let offset = FixedOffset::east_opt(offset_seconds)?;
    date.and_time(time).and_local_timezone(offset).single()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Exactly `count` ASCII digits.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..count {
            let byte = self.next()?;
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        Some(value)
    }

    /// One to nine fraction digits, as nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        Some(value * 10u32.pow(9 - digits.len() as u32))
    }

    /// `Z`, or `±HH:MM` with optional `:SS`; the offset in seconds east of UTC.
    fn offset(&mut self) -> Option<i32> {
        let sign = match self.next()? {
            b'Z' | b'z' => return Some(0),
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hours = self.digits(2)?;
        self.expect(b':')?;
        let minutes = self.digits(2)?;
        let seconds = if self.peek() == Some(b':') {
            self.pos += 1;
            self.digits(2)?
        } else {
            0
        };
        if hours > 18 || minutes > 59 || seconds > 59 {
            return None;
        }
        let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
        Some(sign * total)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_iso_offset_date_times() {
        for ok in [
            "2012-10-09T19:00:55Z",
            "2012-10-09T19:00:55+01:00",
            "2012-10-09t19:00:55z",
            "2016-03-14T01:59:00.123456789Z",
            "2016-03-14T01:59Z",
            "2016-03-14T01:59:00-05:30",
            "2016-02-29T00:00:00Z",
        ] {
            assert!(parse(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_aws_rejects() {
        for bad in [
            "2012-10-09T19:00:55",
            "2016-12-05 21:29:29Z",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "05-12-2016T21:29:29Z",
            "2023-02-24",
            "2023-02-24 12:15:56.832957",
            "2015-02-29T00:00:00Z",
            "2016-03-14T01:59:60Z",
            "2016-03-14T01:59:00.Z",
            "2016-03-14T01:59:00Z trailing",
            "2016-03-14T01:59:00+1:00",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn offsets_shift_the_instant() {
        let a = parse("2012-10-09T20:00:55+01:00").expect("valid");
        let b = parse("2012-10-09T19:00:55Z").expect("valid");
        assert_eq!(a, b);
        let c = parse("2012-10-09T19:00:55.5Z").expect("valid");
        assert!(c > b);
    }
}
