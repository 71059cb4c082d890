//! Times shown to people: stored in UTC, shown in the admin's zone, zone named.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// `2026-12-02 11:40 KST` — minutes, local time, the zone's abbreviation.
pub fn minutes(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// `2026-12-02 11:40:05 KST`.
pub fn seconds(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `2026-12-02` in `tz`.
pub fn date(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_utc_time_is_shown_in_seoul_with_the_zone_named() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap();
        assert_eq!(minutes(t, chrono_tz::Asia::Seoul), "2026-12-02 08:30 KST");
        assert_eq!(minutes(t, chrono_tz::UTC), "2026-12-01 23:30 UTC");
        assert_eq!(date(t, chrono_tz::Asia::Seoul), "2026-12-02");
    }
}
