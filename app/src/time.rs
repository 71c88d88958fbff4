//! Showing server times (UTC, RFC 3339) the way the person reading them expects: relative
//! ("3 minutes ago") and absolute, in the browser's own locale and time zone.

use wasm_bindgen::JsValue;

/// Milliseconds since the epoch of an RFC 3339 time, or None if it does not parse.
pub fn parse_ms(iso: &str) -> Option<f64> {
    let ms = js_sys::Date::new(&JsValue::from_str(iso)).get_time();
    (!ms.is_nan()).then_some(ms)
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// "26/11/2026, 14:03:05" or whatever the browser's locale says.
pub fn absolute(iso: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return iso.to_owned();
    }
    date.to_locale_string("default", &JsValue::UNDEFINED).into()
}

/// "just now", "5 seconds ago", "3 minutes ago", "2 hours ago", "4 days ago".
pub fn relative(iso: &str, now_ms: f64) -> String {
    let Some(then) = parse_ms(iso) else { return iso.to_owned() };
    let seconds = ((now_ms - then) / 1000.0).max(0.0).round() as u64;
    let (n, unit) = match seconds {
        0..=4 => return "just now".into(),
        5..=59 => (seconds, "second"),
        60..=3599 => (seconds / 60, "minute"),
        3600..=86_399 => (seconds / 3600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// "0.4 s", "12 s", "3 min 5 s", "1 h 2 min".
pub fn duration(seconds: f64) -> String {
    if seconds < 10.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Age in days of an RFC 3339 time.
pub fn age_days(iso: &str, now_ms: f64) -> Option<f64> {
    parse_ms(iso).map(|then| (now_ms - then) / 86_400_000.0)
}
