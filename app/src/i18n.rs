//! The app's words in the reader's language: English or French, from the catalogues in
//! `locales/*.ftl` compiled in by `build.rs` (string tables, no parser in the wasm). Numbers,
//! dates and relative times go through the browser's `Intl`, in the same language.
//!
//! The language is the one chosen in the page (remembered in `localStorage`), else the first
//! of the browser's languages the app speaks, else English; `<html lang>` follows it. Changing
//! it redraws the whole app (the shell reads [`Lang`] from [`current`]), so each view reads its
//! words once with [`t`] and never needs to track the language itself.
//!
//! The server sends codes, not words: step keys, error variants, API error variants. Their
//! texts are catalogue keys `step-<key>`, `error-<VARIANT>`, `hint-<VARIANT>`, `api-<VARIANT>`
//! ([`code`]); an unknown code falls back to the server's English text.

use std::cell::Cell;

use leptos::prelude::*;
use wasm_bindgen::JsValue;

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// Where the chosen language is remembered.
const STORAGE_KEY: &str = "outpost.lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 tag: `<html lang>`, `Intl`, and the stored choice.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The language's own name (the same in every language).
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => EN[Key::LangEn as usize],
            Lang::Fr => FR[Key::LangFr as usize],
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }
}

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::En) };
}

/// The language the app shows now (untracked: the shell redraws everything on a change).
pub fn lang() -> Lang {
    LANG.with(Cell::get)
}

/// The app-wide language, tracked; set once at start from the stored choice or the browser.
pub fn current() -> RwSignal<Lang> {
    match use_context::<RwSignal<Lang>>() {
        Some(signal) => signal,
        None => {
            let signal = RwSignal::new(initial());
            apply(signal.get_untracked());
            provide_context(signal);
            signal
        }
    }
}

/// Switch language and remember the choice in this browser.
pub fn choose(lang: Lang) {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = storage.set_item(STORAGE_KEY, lang.tag());
    }
    apply(lang);
    current().set(lang);
}

fn apply(lang: Lang) {
    LANG.with(|l| l.set(lang));
    if let Some(html) = document().document_element() {
        let _ = html.set_attribute("lang", lang.tag());
    }
}

fn initial() -> Lang {
    let stored = window().local_storage().ok().flatten().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    if let Some(lang) = stored.as_deref().and_then(Lang::from_tag) {
        return lang;
    }
    let navigator = window().navigator();
    navigator
        .languages()
        .iter()
        .filter_map(|l| l.as_string())
        .chain(navigator.language())
        .find_map(|tag| Lang::from_tag(&tag))
        .unwrap_or(Lang::En)
}

/// The text of `key` in the current language.
pub fn t(key: Key) -> &'static str {
    match lang() {
        Lang::En => EN[key as usize],
        Lang::Fr => FR[key as usize],
    }
}

/// The text of `key` with its `{ $name }` placeholders filled in.
pub fn tf(key: Key, args: &[(&str, &str)]) -> String {
    fill(t(key), args.iter().copied())
}

/// `text` with its `{ $name }` placeholders filled in.
pub fn fill<'a>(text: &str, args: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = text.to_owned();
    for (name, value) in args {
        text = text.replace(&format!("{{ ${name} }}"), value);
    }
    text
}

/// `one` or `other` by the count, with `{ $count }` as a number of this language.
pub fn plural(one: Key, other: Key, count: u64) -> String {
    // French counts 0 and 1 as singular; English only 1.
    let singular = match lang() {
        Lang::En => count == 1,
        Lang::Fr => count < 2,
    };
    tf(if singular { one } else { other }, &[("count", &number(count as f64))])
}

/// The text for a code the server sent (`code("error", "CONNECTION_ERROR")`), if the catalogue has it.
pub fn code(prefix: &str, code: &str) -> Option<&'static str> {
    Key::find(&format!("{prefix}-{code}")).map(t)
}

/// 12345 → "12,345" in English, "12 345" in French.
pub fn number(n: f64) -> String {
    js_sys::Number::from(n).to_locale_string(lang().tag()).into()
}

/// "3 minutes ago" / "il y a 3 minutes", from `Intl.RelativeTimeFormat`.
pub fn ago(value: f64, unit: &str) -> String {
    let locales = js_sys::Array::of1(&JsValue::from_str(lang().tag()));
    js_sys::Intl::RelativeTimeFormat::new(&locales, &js_sys::Object::new()).format(-value, unit).into()
}

/// A date and time in this language's usual form, in the browser's time zone.
pub fn date_time(date: &js_sys::Date) -> String {
    date.to_locale_string(lang().tag(), &JsValue::UNDEFINED).into()
}

/// The language switch: a select in the header; the choice is remembered.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let on_change = move |e: leptos::ev::Event| {
        if let Some(lang) = Lang::from_tag(&event_target_value(&e)) {
            choose(lang);
        }
    };
    view! {
        <label class="lang-switch">
            <span class="visually-hidden">{t(Key::Language)}</span>
            <select data-testid="language" on:change=on_change prop:value=lang().tag()>
                {Lang::ALL.into_iter().map(|l| view! {
                    <option value=l.tag() selected=l == lang() lang=l.tag()>{l.name()}</option>
                }).collect_view()}
            </select>
        </label>
    }
}
