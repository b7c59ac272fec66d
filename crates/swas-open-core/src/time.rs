//! UTC timestamps in the wire format `YYYY-MM-DDThh:mm:ssZ`, with no clock inside.
//!
//! Callers read the clock (`SystemTime::now()`) and hand the value in; the core only converts.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

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

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub(crate) fn from_unix(secs: u64) -> Result<Self, TimestampError> {
        if secs > MAX_UNIX {
            return Err(TimestampError::OutOfRange);
        }
        let at = i64::try_from(secs)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .ok_or(TimestampError::OutOfRange)?;
        let (year, month, day) = at.to_calendar_date();
        let (hour, minute, second) = at.to_hms();
        let mut text = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (0..width).rev() {
                text[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        // Years 1970..=9999 here, so always four digits.
        put(0, 4, year.unsigned_abs());
        put(5, 2, u32::from(u8::from(month)));
        put(8, 2, u32::from(day));
        put(11, 2, u32::from(hour));
        put(14, 2, u32::from(minute));
        put(17, 2, u32::from(second));
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
        // Each field is at most two digits, so the narrowing casts below are exact.
        let day = digits(8..10)? as u8;
        let date = Month::try_from(digits(5..7)? as u8)
            .and_then(|m| Date::from_calendar_date(i32::from(year), m, day));
        let time = Time::from_hms(
            digits(11..13)? as u8,
            digits(14..16)? as u8,
            digits(17..19)? as u8,
        );
        let (Ok(date), Ok(time)) = (date, time) else {
            return Err(TimestampError::Format);
        };
        let unix = PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp();
        // A valid text of a year from 1970 to 9999 is already the wire form.
        Ok(Self {
            unix: u64::try_from(unix).map_err(|_| TimestampError::OutOfRange)?,
            text: *b,
        })
    }
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
