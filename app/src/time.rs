//! Showing server times (UTC, RFC 3339) the way the person reading them expects: relative
//! ("3 minutes ago") and absolute, in the reader's language and the browser's time zone.

use wasm_bindgen::JsValue;

use crate::i18n::{self, Key, t, tf};

/// Milliseconds since the epoch of an RFC 3339 time, or None if it does not parse.
pub fn parse_ms(iso: &str) -> Option<f64> {
    let ms = js_sys::Date::new(&JsValue::from_str(iso)).get_time();
    (!ms.is_nan()).then_some(ms)
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// "26/11/2026 14:03:05" or whatever the reader's language says, in the browser's time zone.
pub fn absolute(iso: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return iso.to_owned();
    }
    i18n::date_time(&date)
}

/// "just now", "5 seconds ago", "3 minutes ago", "2 hours ago", "4 days ago" (or in French).
pub fn relative(iso: &str, now_ms: f64) -> String {
    let Some(then) = parse_ms(iso) else { return iso.to_owned() };
    let seconds = ((now_ms - then) / 1000.0).max(0.0).round() as u64;
    let (n, unit) = match seconds {
        0..=4 => return t(Key::JustNow).into(),
        5..=59 => (seconds, "second"),
        60..=3599 => (seconds / 60, "minute"),
        3600..=86_399 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    i18n::ago(n as f64, unit)
}

/// "0.4 s", "12 s", "3 min 5 s", "1 h 2 min" ("0,4 s" in French).
pub fn duration(seconds: f64) -> String {
    if seconds < 10.0 {
        let tenths = i18n::number((seconds * 10.0).round() / 10.0);
        return tf(Key::DurationSeconds, &[("n", &tenths)]);
    }
    let s = seconds.round() as u64;
    let n = |v: u64| v.to_string();
    match s {
        0..=59 => tf(Key::DurationSeconds, &[("n", &n(s))]),
        60..=3599 => tf(Key::DurationMinutes, &[("m", &n(s / 60)), ("s", &n(s % 60))]),
        _ => tf(Key::DurationHours, &[("h", &n(s / 3600)), ("m", &n((s % 3600) / 60))]),
    }
}

/// Age in days of an RFC 3339 time.
pub fn age_days(iso: &str, now_ms: f64) -> Option<f64> {
    parse_ms(iso).map(|then| (now_ms - then) / 86_400_000.0)
}
