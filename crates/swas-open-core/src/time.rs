//! UTC timestamps in the wire format `YYYY-MM-DDThh:mm:ssZ`, with no clock inside.
//!
//! Callers read the clock (`SystemTime::now()`) and hand the value in; the core only converts.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with whole-second precision, between 1970-01-01 and 9999-12-31.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use swas_open::sans_io::Timestamp;
/// let t: Timestamp = "2016-02-23T12:46:24Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2016-02-23T12:46:24Z");
///
/// // Clocks convert both ways (fractions of a second are dropped).
/// let now = UNIX_EPOCH + Duration::from_millis(1_456_231_584_250);
/// assert_eq!(Timestamp::try_from(now).unwrap(), t);
/// assert_eq!(SystemTime::from(t), UNIX_EPOCH + Duration::from_secs(1_456_231_584));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix: u64,
    text: [u8; 20],
}

/// Why a timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not of the form `YYYY-MM-DDThh:mm:ssZ` (a valid date and time, UTC, no fraction).
    #[error("timestamp is not of the form YYYY-MM-DDThh:mm:ssZ")]
    Format,
    /// Before 1970 or after 9999.
    #[error("timestamp is outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59Z")]
    OutOfRange,
}

const MAX_UNIX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// `00`, `01`, ... `99`, one after the other.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub(crate) fn from_unix(secs: u64) -> Result<Self, TimestampError> {
        if secs > MAX_UNIX {
            return Err(TimestampError::OutOfRange);
        }
        let (year, month, day) = civil_from_days(secs / 86_400);
        let time = secs % 86_400;
        let mut text = *b"0000-00-00T00:00:00Z";
        // Two digits at a time, each pair from a table.
        let mut put = |at: usize, v: u64| {
            let i = (v % 100) as usize * 2;
            text[at..at + 2].copy_from_slice(&DIGIT_PAIRS[i..i + 2]);
        };
        // Years 1970..=9999 here, so always four digits.
        put(0, year / 100);
        put(2, year);
        put(5, month);
        put(8, day);
        put(11, time / 3600);
        put(14, time / 60 % 60);
        put(17, time % 60);
        Ok(Self { unix: secs, text })
    }

    /// Seconds since the Unix epoch.
    pub(crate) fn unix(&self) -> u64 {
        self.unix
    }

    /// The wire form, `YYYY-MM-DDThh:mm:ssZ`.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written into `text`.
        std::str::from_utf8(&self.text).unwrap_or("1970-01-01T00:00:00Z")
    }

    /// The wire form as its 20 bytes: digits, with `-` at 4 and 7, `T` at 10, `:` at 13
    /// and 16 and `Z` at 19.
    pub(crate) fn as_bytes(&self) -> &[u8; 20] {
        &self.text
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampError;
    /// Whole seconds of `t` (the fraction is dropped); before 1970 or after 9999 is out of range.
    fn try_from(t: SystemTime) -> Result<Self, TimestampError> {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TimestampError::OutOfRange)?
            .as_secs();
        Self::from_unix(secs)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(t.unix)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    /// Parses `YYYY-MM-DDThh:mm:ssZ` strictly.
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        let Ok(b) = <&[u8; 20]>::try_from(s.as_bytes()) else {
            return Err(TimestampError::Format);
        };
        let digits = |r: std::ops::Range<usize>| -> Result<u16, TimestampError> {
            b[r].iter().try_fold(0u16, |acc, &d| {
                if d.is_ascii_digit() {
                    Ok(acc * 10 + u16::from(d - b'0'))
                } else {
                    Err(TimestampError::Format)
                }
            })
        };
        if [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ]
        .iter()
        .any(|&(at, sep)| b[at] != sep)
        {
            return Err(TimestampError::Format);
        }
        let year = digits(0..4)?;
        if year < 1970 {
            return Err(TimestampError::OutOfRange);
        }
        let (month, day) = (digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(TimestampError::Format);
        }
        let days = days_from_civil(year.into(), month.into(), day.into());
        let unix =
            days * 86_400 + u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second);
        // A valid text of a year from 1970 to 9999 is already the wire form.
        Ok(Self { unix, text: *b })
    }
}

/// The days of `month` (1 to 12) of `year` in the proleptic Gregorian calendar.
fn days_in_month(year: u16, month: u16) -> u16 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Calendar arithmetic after Howard Hinnant's `days_from_civil` and `civil_from_days`
// ("chrono-Compatible Low-Level Date Algorithms"), for dates from 1970 on: the year is
// counted from March, so that the leap day is the last of its year, in eras of 400 years
// (146,097 days) that repeat exactly.

/// Days from 1970-01-01 to 1970-03-01 counted back from 0000-03-01.
const EPOCH_SHIFT: u64 = 719_468;

/// The day count since 1970-01-01 of a valid date from 1970 on.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let (era, year_of_era) = (year / 400, year % 400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - EPOCH_SHIFT
}

/// The date (year, month 1 to 12, day 1 to 31) `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let days = days + EPOCH_SHIFT;
    let (era, day_of_era) = (days / 146_097, days % 146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_456_231_584, "2016-02-23T12:46:24Z"),
            (1_698_315_752, "2023-10-26T10:22:32Z"),
            (MAX_UNIX, "9999-12-31T23:59:59Z"),
        ] {
            let t =
                Timestamp::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
                    .unwrap();
            assert_eq!(t.as_str(), text);
            assert_eq!(Timestamp::from_str(text).unwrap().unix(), unix);
        }
        assert_eq!(
            Timestamp::try_from(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(MAX_UNIX + 1)
            ),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2016-02-23T12:46:24",
            "2016-02-23T12:46:24.000Z",
            "2016-02-30T12:46:24Z",
            "2015-02-29T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-02-23 12:46:24Z",
            "2016-02-23T24:00:00Z",
            "2016-02-23T12:60:00Z",
            "2016-02-2xT12:46:24Z",
            "１０１6-02-23T12:46:24Z",
        ] {
            assert!(Timestamp::from_str(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Timestamp::from_str("1969-12-31T23:59:59Z"),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn system_time_conversions() {
        let t = Timestamp::try_from(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_456_231_584),
        )
        .unwrap();
        let clock = UNIX_EPOCH + Duration::new(1_456_231_584, 999_999_999);
        assert_eq!(Timestamp::try_from(clock), Ok(t));
        assert_eq!(
            Timestamp::try_from(SystemTime::from(t)),
            Ok(t),
            "round trip"
        );
        assert_eq!(
            Timestamp::try_from(UNIX_EPOCH - Duration::from_secs(1)),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::try_from(UNIX_EPOCH + Duration::from_secs(MAX_UNIX + 1)),
            Err(TimestampError::OutOfRange)
        );
    }

    proptest::proptest! {
        /// The same text and instant as the `time` crate's calendar, both ways, over the
        /// whole range.
        #[test]
        fn agrees_with_the_time_crate(secs in 0..=MAX_UNIX) {
            let at = ::time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
            );
            let t = Timestamp::from_unix(secs).unwrap();
            proptest::prop_assert_eq!(t.as_str(), text.as_str());
            proptest::prop_assert_eq!(Timestamp::from_str(&text).unwrap().unix(), secs);
        }

        /// Any 20 bytes of the wire shape parse exactly when the `time` crate takes them
        /// as a date and time, to the same instant.
        #[test]
        fn parses_as_the_time_crate(
            year in 1970u16..=9999, month in 0u8..=13, day in 0u8..=32,
            hour in 0u8..=24, minute in 0u8..=60, second in 0u8..=60,
        ) {
            let text = format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
            );
            let expected = ::time::Month::try_from(month)
                .and_then(|m| ::time::Date::from_calendar_date(year.into(), m, day))
                .and_then(|d| d.with_hms(hour, minute, second))
                .map(|at| at.assume_utc().unix_timestamp() as u64)
                .ok();
            let parsed = Timestamp::from_str(&text).ok().map(|t| t.unix());
            proptest::prop_assert_eq!(parsed, expected);
        }
    }

    #[test]
    fn every_day_round_trips() {
        for day in 0..(200 * 366) {
            let t = Timestamp::try_from(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(day * 86_400 + 3661),
            )
            .unwrap();
            assert_eq!(Timestamp::from_str(t.as_str()).unwrap(), t);
        }
    }
}
