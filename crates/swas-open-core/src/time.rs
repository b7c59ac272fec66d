//! UTC timestamps in the wire format `YYYY-MM-DDThh:mm:ssZ`, with no clock inside.
//!
//! Callers read the clock (`SystemTime::now()`) and hand the value in; the core only converts.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with whole-second precision, between 1970-01-01 and 9999-12-31.
///
/// ```
/// use swas_open_core::Timestamp;
/// let t = Timestamp::from_unix(1_456_231_584).unwrap();
/// assert_eq!(t.to_string(), "2016-02-23T12:46:24Z");
/// assert_eq!(Timestamp::parse("2016-02-23T12:46:24Z").unwrap(), t);
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
    pub fn from_unix(secs: u64) -> Result<Self, TimestampError> {
        if secs > MAX_UNIX {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Self {
            unix: secs,
            text: format_utc(secs),
        })
    }

    /// From a [`SystemTime`] (fractions of a second are dropped).
    pub fn from_system_time(t: SystemTime) -> Result<Self, TimestampError> {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TimestampError::OutOfRange)?
            .as_secs();
        Self::from_unix(secs)
    }

    /// Parses `YYYY-MM-DDThh:mm:ssZ` strictly.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(TimestampError::Format);
        }
        let num = |r: std::ops::Range<usize>| -> Result<u64, TimestampError> {
            b[r].iter().try_fold(0u64, |acc, &d| {
                if d.is_ascii_digit() {
                    Ok(acc * 10 + u64::from(d - b'0'))
                } else {
                    Err(TimestampError::Format)
                }
            })
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if year < 1970 {
            return Err(TimestampError::OutOfRange);
        }
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return Err(TimestampError::Format);
        }
        let days = days_from_civil(year, month, day);
        Self::from_unix(days * 86_400 + hour * 3600 + min * 60 + sec)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// The wire form, `YYYY-MM-DDThh:mm:ssZ`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written into `text`.
        std::str::from_utf8(&self.text).unwrap_or("1970-01-01T00:00:00Z")
    }

    /// The distance between two instants, whichever is later.
    pub fn abs_diff(&self, other: &Timestamp) -> Duration {
        Duration::from_secs(self.unix.abs_diff(other.unix))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn is_leap(y: u64) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days, restricted to years >= 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn format_utc(secs: u64) -> [u8; 20] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut t = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            t[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, rem / 3600);
    put(14, 2, rem % 3600 / 60);
    put(17, 2, rem % 60);
    t
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
            let t = Timestamp::from_unix(unix).unwrap();
            assert_eq!(t.as_str(), text);
            assert_eq!(Timestamp::parse(text).unwrap().unix(), unix);
        }
        assert_eq!(
            Timestamp::from_unix(MAX_UNIX + 1),
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
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59Z"),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn every_day_round_trips() {
        for day in 0..(200 * 366) {
            let t = Timestamp::from_unix(day * 86_400 + 3661).unwrap();
            assert_eq!(Timestamp::parse(t.as_str()).unwrap(), t);
        }
    }
}
