//! Compiles the string catalogues (`locales/en.ftl`, `locales/fr.ftl`, a subset of Fluent:
//! `key = text` with `{ $name }` placeholders) into the app, so the browser gets plain string
//! tables and no Fluent parser (the wasm size budget is tight). The build stops when:
//!
//! - a key is in one language and not the other, or a text uses other placeholders than its
//!   English original;
//! - a view in `src/` shows words that do not come from the catalogue (a string literal in a
//!   text position of `view!`, or in an attribute people read: `aria-label`, `title`, a
//!   component's `label`, ...).
//!
//! So a missing translation is a build failure, not an English word on a French page. A key no
//! code uses is a dead `Key` variant, which clippy (`-D warnings`) refuses; keys named by the
//! server (`step-`, `error-`, `hint-`, `api-`, `invalid-`) are reached through `Key::find` and always kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const LANGS: [&str; 2] = ["en", "fr"];

/// Prefixes of the keys that name a code the server sends; only these are looked up by name
/// at run time (the app names every other key in its code).
const SERVER_CODES: [&str; 5] = ["step-", "error-", "hint-", "api-", "invalid-"];

/// Attributes whose value a person reads (or hears); a literal there must come from the catalogue.
const READ_ATTRIBUTES: [&str; 9] =
    ["aria-label", "title", "placeholder", "alt", "label", "busy_label", "help", "aria-roledescription", "caption"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=locales");
    println!("cargo:rerun-if-changed=src");
    let catalogues: Vec<BTreeMap<String, String>> = LANGS
        .iter()
        .map(|lang| {
            let path = root.join("locales").join(format!("{lang}.ftl"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect();
    let mut problems = parity(&catalogues);
    problems.extend(literals_in_views(&root.join("src")));
    if !problems.is_empty() {
        panic!("the string catalogue check failed:\n  {}", problems.join("\n  "));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("catalogue.rs");
    std::fs::write(out, generate(&catalogues)).unwrap();
}

/// `key = text` lines; `#` comments and blank lines skipped.
fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(" = ").ok_or_else(|| format!("line {}: expected `key = text`", n + 1))?;
        let key = key.trim();
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(format!("line {}: `{key}` is not a Fluent identifier", n + 1));
        }
        if map.insert(key.to_owned(), value.trim().to_owned()).is_some() {
            return Err(format!("line {}: `{key}` is defined twice", n + 1));
        }
    }
    Ok(map)
}

fn placeholders(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = text.split("{ $").skip(1).filter_map(|rest| rest.split(" }").next()).collect();
    names.sort_unstable();
    names
}

fn parity(catalogues: &[BTreeMap<String, String>]) -> Vec<String> {
    let mut problems = Vec::new();
    let en = &catalogues[0];
    for (lang, catalogue) in LANGS.iter().zip(catalogues).skip(1) {
        for key in en.keys().filter(|k| !catalogue.contains_key(*k)) {
            problems.push(format!("locales/{lang}.ftl lacks `{key}`"));
        }
        for key in catalogue.keys().filter(|k| !en.contains_key(*k)) {
            problems.push(format!("locales/en.ftl lacks `{key}` (found in {lang}.ftl)"));
        }
        for (key, text) in catalogue {
            if let Some(original) = en.get(key)
                && placeholders(original) != placeholders(text)
            {
                problems.push(format!("locales/{lang}.ftl: `{key}` uses other placeholders than en.ftl"));
            }
        }
    }
    problems
}

/// `step-pushV6` → `StepPushV6`, `error-CONNECTION_ERROR` → `ErrorConnectionError`.
fn variant_name(key: &str) -> String {
    key.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|part| {
            let lower =
                if part.chars().all(|c| !c.is_ascii_lowercase()) { part.to_ascii_lowercase() } else { part.into() };
            let mut chars = lower.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn generate(catalogues: &[BTreeMap<String, String>]) -> String {
    let keys: Vec<&String> = catalogues[0].keys().collect();
    let mut out = String::from(
        "/// A text of the catalogue (`locales/*.ftl`), by its key.\n#[derive(Debug, Clone, Copy, PartialEq, Eq)]\npub enum Key {\n",
    );
    for key in &keys {
        let _ = writeln!(out, "    /// `{key}`\n    {},", variant_name(key));
    }
    out.push_str("}\n\nimpl Key {\n    /// The key of a code the server sent (`error-CONNECTION_ERROR`), if the catalogue has it.\n");
    out.push_str("    pub fn find(name: &str) -> Option<Key> {\n        Some(match name {\n");
    for key in keys.iter().filter(|k| SERVER_CODES.iter().any(|p| k.starts_with(p))) {
        let _ = writeln!(out, "            {key:?} => Key::{},", variant_name(key));
    }
    out.push_str("            _ => return None,\n        })\n    }\n}\n\n");
    for (lang, catalogue) in LANGS.iter().zip(catalogues) {
        let _ = writeln!(out, "pub static {}: [&str; {}] = [", lang.to_ascii_uppercase(), keys.len());
        for key in &keys {
            let _ = writeln!(out, "    {:?},", catalogue[*key]);
        }
        out.push_str("];\n\n");
    }
    out
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Words a person would read, written straight into a `view!` instead of taken from the catalogue.
fn literals_in_views(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(src.parent().unwrap()).unwrap_or(&file).display().to_string();
        for (line, literal) in view_text_literals(&text) {
            problems.push(format!("{name}:{line}: {literal:?} is shown in a view but is not in the catalogue"));
        }
    }
    problems
}

/// (line, literal) of each string literal in a text position inside a `view! { ... }`.
fn view_text_literals(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(at) = text[search..].find("view! {") {
        let start = search + at + "view! ".len();
        let mut depth = 0usize;
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'"' => {
                    let open = i;
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        if bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    let literal = &text[open + 1..i];
                    let before = text[..open].trim_end();
                    let after = text[i + 1..].trim_start();
                    let prev = before.chars().last().unwrap_or(' ');
                    let next = after.chars().next().unwrap_or(' ');
                    let attribute = before
                        .strip_suffix('=')
                        .map(|b| b.rsplit(|c: char| c.is_whitespace() || c == '<').next().unwrap_or(""));
                    let in_text = matches!(prev, '>' | '"') || next == '<' || (prev == '}' && next != ')');
                    let in_braces = prev == '{' && next == '}';
                    let read_attribute = attribute.is_some_and(|a| READ_ATTRIBUTES.contains(&a));
                    if (in_text || in_braces || read_attribute) && is_words(literal) {
                        found.push((text[..open].matches('\n').count() + 1, literal.to_owned()));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        search = i.min(bytes.len());
        if search >= text.len() {
            break;
        }
    }
    found
}

/// Two letters or more, and not a token like `submit` or `sync-now` (an attribute value).
fn is_words(literal: &str) -> bool {
    let letters = literal.chars().filter(|c| c.is_alphabetic()).count();
    let token = literal.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    letters >= 2 && !token
}
