//! Free slots: weekly availability in the practitioner's local time, expanded day by day with the
//! IANA database (chrono-tz), then filtered. A local time that happens twice (autumn change) gives
//! one slot, at its first occurrence; a local time that does not exist (spring change) gives none;
//! every other slot of a change day is where it is on any other day. Slot length is absolute.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::Serialize;

/// A weekly range: `day_of_week` 0 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekly {
    pub day_of_week: u32,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub slot_minutes: i64,
}

/// An exception: the whole local day, or only `start`–`end` of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub date: NaiveDate,
    pub range: Option<(NaiveTime, NaiveTime)>,
}

/// A bookable slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    #[serde(serialize_with = "rfc3339")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub ends_at: DateTime<Utc>,
}

/// The same text as chrono's serializer (`2026-11-27T09:00:00Z`), written directly for whole
/// seconds: a four-week answer holds over a thousand instants, and chrono's general formatter was
/// the largest cost of the route (bench/RESULTS.md). Anything else goes through chrono.
fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    use chrono::Timelike as _;
    let year = at.year();
    if at.nanosecond() != 0 || !(0..=9999).contains(&year) {
        return at.serialize(serializer);
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut value = value;
        for i in (0..digits).rev() {
            text[at + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year.unsigned_abs(), 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
}

/// What limits the slots offered.
#[derive(Debug, Clone)]
pub struct Constraints {
    /// Nothing before this instant (now + minimum notice).
    pub not_before: DateTime<Utc>,
    /// Nothing from this instant on (booking horizon), if any.
    pub not_after: Option<DateTime<Utc>>,
    /// Live consultations: `[start, end)`.
    pub busy: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The first instant of a local time, or `None` if it does not exist that day.
pub fn to_utc(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Free slots for local dates `from..=to`.
pub fn free_slots(
    zone: Tz,
    weekly: &[Weekly],
    exceptions: &[Exception],
    from: NaiveDate,
    to: NaiveDate,
    constraints: &Constraints,
) -> Vec<Slot> {
    let busy = Busy::new(&constraints.busy);
    let mut slots = Vec::new();
    let mut day = from;
    while day <= to {
        let blocked_all_day = exceptions
            .iter()
            .any(|e| e.date == day && e.range.is_none());
        if !blocked_all_day {
            let blocked: Vec<(DateTime<Utc>, DateTime<Utc>)> = exceptions
                .iter()
                .filter(|e| e.date == day)
                .filter_map(|e| e.range)
                .filter_map(|(start, end)| {
                    Some((
                        to_utc(zone, day.and_time(start))?,
                        to_utc(zone, day.and_time(end))?,
                    ))
                })
                .collect();
            let weekday = day.weekday().num_days_from_sunday();
            for range in weekly.iter().filter(|w| w.day_of_week == weekday) {
                let step = Duration::minutes(range.slot_minutes);
                let mut local = day.and_time(range.start);
                let end = day.and_time(range.end);
                while local + step <= end {
                    if let Some(starts_at) = to_utc(zone, local) {
                        let slot = Slot {
                            starts_at,
                            ends_at: starts_at + step,
                        };
                        let overlaps = |(s, e): &(DateTime<Utc>, DateTime<Utc>)| {
                            slot.starts_at < *e && *s < slot.ends_at
                        };
                        let allowed = slot.starts_at >= constraints.not_before
                            && constraints
                                .not_after
                                .is_none_or(|limit| slot.starts_at < limit)
                            && !blocked.iter().any(overlaps)
                            && !busy.overlaps(&slot);
                        if allowed {
                            slots.push(slot);
                        }
                    }
                    local += step;
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    // Overlapping weekly ranges can offer the same start twice: the first one offered stays
    // (the sort is stable).
    slots.sort_by_key(|s| s.starts_at);
    slots.dedup_by_key(|s| s.starts_at);
    slots
}

/// Busy intervals sorted by start, with the latest end so far: whether a slot meets any of them
/// is one binary search instead of a scan.
struct Busy {
    starts: Vec<DateTime<Utc>>,
    latest_end: Vec<DateTime<Utc>>,
}

impl Busy {
    fn new(intervals: &[(DateTime<Utc>, DateTime<Utc>)]) -> Self {
        let mut sorted = intervals.to_vec();
        sorted.sort_by_key(|(start, _)| *start);
        let mut latest = DateTime::<Utc>::MIN_UTC;
        let latest_end = sorted
            .iter()
            .map(|(_, end)| {
                latest = latest.max(*end);
                latest
            })
            .collect();
        Self {
            starts: sorted.into_iter().map(|(start, _)| start).collect(),
            latest_end,
        }
    }

    /// Some interval starts before the slot ends and ends after it starts.
    fn overlaps(&self, slot: &Slot) -> bool {
        let before_end = self.starts.partition_point(|start| *start < slot.ends_at);
        before_end > 0 && self.latest_end[before_end - 1] > slot.starts_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn open() -> Constraints {
        Constraints {
            not_before: DateTime::<Utc>::MIN_UTC,
            not_after: None,
            busy: Vec::new(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn instants_serialize_exactly_as_chrono_does() {
        for text in [
            "2026-11-27T09:00:00Z",
            "2026-03-29T01:30:00Z",
            "0999-01-01T00:00:00Z",
            "2026-11-27T09:00:00.250Z",
        ] {
            let at = utc(text);
            let slot = Slot {
                starts_at: at,
                ends_at: at,
            };
            let chrono = serde_json::to_string(&at).expect("chrono");
            let ours = serde_json::to_value(slot).expect("slot");
            assert_eq!(ours["startsAt"].to_string(), chrono, "{text}");
        }
    }

    #[test]
    fn busy_lookup_agrees_with_a_scan() {
        let base = utc("2026-06-01T00:00:00Z");
        let at = |minutes: i64| base + Duration::minutes(minutes);
        // Unsorted, overlapping and nested intervals.
        let intervals = vec![
            (at(300), at(330)),
            (at(0), at(240)),
            (at(60), at(90)),
            (at(500), at(501)),
            (at(320), at(400)),
        ];
        let busy = Busy::new(&intervals);
        for start in (0..600).step_by(7) {
            for length in [1, 15, 30, 120] {
                let slot = Slot {
                    starts_at: at(start),
                    ends_at: at(start + length),
                };
                let scan = intervals
                    .iter()
                    .any(|(s, e)| slot.starts_at < *e && *s < slot.ends_at);
                assert_eq!(busy.overlaps(&slot), scan, "{start}+{length}");
            }
        }
    }

    #[test]
    fn paris_mornings_follow_daylight_saving() {
        let monday = [Weekly {
            day_of_week: 1,
            start: t(9, 0),
            end: t(12, 0),
            slot_minutes: 60,
        }];
        // 2026-03-23 (winter) and 2026-03-30 (summer; the change is Sunday 29 March).
        let slots = free_slots(
            chrono_tz::Europe::Paris,
            &monday,
            &[],
            d(2026, 3, 23),
            d(2026, 3, 30),
            &open(),
        );
        let starts: Vec<String> = slots.iter().map(|s| s.starts_at.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-23T08:00:00+00:00",
                "2026-03-23T09:00:00+00:00",
                "2026-03-23T10:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
                "2026-03-30T08:00:00+00:00",
                "2026-03-30T09:00:00+00:00",
            ]
        );
        assert!(
            slots
                .iter()
                .all(|s| s.ends_at - s.starts_at == Duration::minutes(60))
        );
    }

    #[test]
    fn change_days_lose_and_duplicate_nothing() {
        // Sunday ranges that cross the change hours themselves.
        let sunday = [Weekly {
            day_of_week: 0,
            start: t(0, 0),
            end: t(5, 0),
            slot_minutes: 60,
        }];
        let spring = free_slots(
            chrono_tz::Europe::Paris,
            &sunday,
            &[],
            d(2026, 3, 29),
            d(2026, 3, 29),
            &open(),
        );
        // 02:00 does not exist that night: 00:00, 01:00, 03:00, 04:00 local.
        assert_eq!(spring.len(), 4);
        assert_eq!(spring[2].starts_at, utc("2026-03-29T01:00:00Z"));
        let autumn = free_slots(
            chrono_tz::Europe::Paris,
            &sunday,
            &[],
            d(2026, 10, 25),
            d(2026, 10, 25),
            &open(),
        );
        // 02:00 happens twice: one slot, at the first one.
        assert_eq!(autumn.len(), 5);
        let mut unique = autumn.clone();
        unique.dedup_by_key(|s| s.starts_at);
        assert_eq!(unique.len(), 5);
        assert_eq!(autumn[2].starts_at, utc("2026-10-25T00:00:00Z"));
        // An ordinary morning on the autumn change day is where it always is locally.
        let morning = [Weekly {
            day_of_week: 0,
            start: t(9, 0),
            end: t(10, 0),
            slot_minutes: 60,
        }];
        let slots = free_slots(
            chrono_tz::Europe::Paris,
            &morning,
            &[],
            d(2026, 10, 25),
            d(2026, 10, 25),
            &open(),
        );
        assert_eq!(slots[0].starts_at, utc("2026-10-25T08:00:00Z"));
    }

    #[test]
    fn new_york_changes_on_its_own_dates() {
        let monday = [Weekly {
            day_of_week: 1,
            start: t(9, 0),
            end: t(10, 0),
            slot_minutes: 50,
        }];
        let zone = chrono_tz::America::New_York;
        // US change: Sunday 8 March 2026 and Sunday 1 November 2026.
        let march = free_slots(zone, &monday, &[], d(2026, 3, 2), d(2026, 3, 9), &open());
        assert_eq!(march[0].starts_at, utc("2026-03-02T14:00:00Z"));
        assert_eq!(march[1].starts_at, utc("2026-03-09T13:00:00Z"));
        let november = free_slots(zone, &monday, &[], d(2026, 10, 26), d(2026, 11, 2), &open());
        assert_eq!(november[0].starts_at, utc("2026-10-26T13:00:00Z"));
        assert_eq!(november[1].starts_at, utc("2026-11-02T14:00:00Z"));
    }

    #[test]
    fn exceptions_notice_horizon_and_busy_times() {
        let monday = [Weekly {
            day_of_week: 1,
            start: t(9, 0),
            end: t(12, 0),
            slot_minutes: 60,
        }];
        let zone = chrono_tz::Europe::Paris;
        let exceptions = [
            Exception {
                date: d(2026, 12, 7),
                range: None,
            },
            Exception {
                date: d(2026, 12, 14),
                range: Some((t(10, 0), t(11, 0))),
            },
        ];
        let constraints = Constraints {
            not_before: utc("2026-12-14T08:30:00Z"),
            not_after: Some(utc("2026-12-28T00:00:00Z")),
            busy: vec![(utc("2026-12-21T08:30:00Z"), utc("2026-12-21T09:20:00Z"))],
        };
        let slots = free_slots(
            zone,
            &monday,
            &exceptions,
            d(2026, 12, 7),
            d(2026, 12, 31),
            &constraints,
        );
        let starts: Vec<String> = slots.iter().map(|s| s.starts_at.to_rfc3339()).collect();
        // 7th: exception day. 14th: 09:00 local is 08:00Z, before the notice; 10:00 excepted; 11:00 free.
        // 21st: 09:00 and 10:00 overlap the busy range; 11:00 free. 28th: past the horizon.
        assert_eq!(
            starts,
            ["2026-12-14T10:00:00+00:00", "2026-12-21T10:00:00+00:00"]
        );
    }
}
