//! Small inline SVG icons (no icon font to download; they inherit the text colour).

use leptos::prelude::*;

fn icon(path: &'static str) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
            <path d=path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>
        </svg>
    }
}

pub fn sync() -> impl IntoView {
    icon("M4 12a8 8 0 0 1 14-5.3L20 9M20 4v5h-5M20 12a8 8 0 0 1-14 5.3L4 15M4 20v-5h5")
}
pub fn gear() -> impl IntoView {
    icon(
        "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12l2-1-1-3-2 .3-1.4-1.4.3-2-3-1-1 2h-2l-1-2-3 1 .3 2L5.7 8 4 8 3 11l2 1v0l-2 1 1 3 2-.3 1.4 1.4-.3 2 3 1 1-2h2l1 2 3-1-.3-2 1.4-1.4 2 .3 1-3z",
    )
}
pub fn boxes() -> impl IntoView {
    icon("M3 7l9-4 9 4-9 4-9-4zM3 7v10l9 4 9-4V7M12 11v10")
}
pub fn push() -> impl IntoView {
    icon("M6 13l6-6 6 6M6 19l6-6 6 6")
}
pub fn pull() -> impl IntoView {
    icon("M6 5l6 6 6-6M6 11l6 6 6-6")
}
pub fn integrate() -> impl IntoView {
    icon("M12 3v12M7 10l5 5 5-5M4 19h16")
}
pub fn prepare() -> impl IntoView {
    icon("M12 3v4M12 17v4M3 12h4M17 12h4M6 6l2.5 2.5M15.5 15.5L18 18M6 18l2.5-2.5M15.5 8.5L18 6")
}
pub fn check() -> impl IntoView {
    icon("M5 12l5 5 9-10")
}
pub fn alert() -> impl IntoView {
    icon("M12 8v5M12 16.5v.5M10.3 3.9L2.4 18a2 2 0 0 0 1.7 3h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z")
}
pub fn skip() -> impl IntoView {
    icon("M7 12h10")
}
