//! Configuration as operators expect it, for every role: `--config FILE` (TOML, keys named
//! like the long flags: `listen = "0.0.0.0:8443"`, `tls-cert = "/etc/outpost/cert.pem"`),
//! `OUTPOST_*` environment variables for every flag (`OUTPOST_TLS_CERT`, the flag's name in
//! capitals with `_`), and the flags themselves. Precedence: flags > environment > file >
//! built-in defaults.
//!
//! How: before parsing, every long flag of the role gets its `OUTPOST_*` variable (unless it
//! names its own) and takes the file's value as its default, so clap itself applies the
//! precedence. A key the role does not have is an error, so a typo cannot be silently ignored.
//! `--print-config` prints the merged result, secrets masked.

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path} is not valid TOML: {error}")]
    Toml { path: String, error: String },
    #[error(
        "{path}: `{key}` is not an option of `outpost {role}` (hint: keys are the long flags, e.g. `data-dir`; see `outpost {role} --help`)"
    )]
    UnknownKey { path: String, key: String, role: String },
    #[error("{path}: `{key}` must be a string, number, boolean or a list of those")]
    BadValue { path: String, key: String },
}

/// `--config FILE` (or `--config=FILE`, or `OUTPOST_CONFIG`), found before clap parses.
pub fn config_path(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = iter.next() {
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("OUTPOST_CONFIG").map(PathBuf::from)
}

/// The role subcommand named in `args` (the first argument that is one).
fn role_of(command: &Command, args: &[std::ffi::OsString]) -> Option<String> {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| command.get_subcommands().any(|s| s.get_name() == a))
}

fn env_name(long: &str) -> String {
    format!("OUTPOST_{}", long.to_uppercase().replace('-', "_"))
}

/// The command with `OUTPOST_*` variables on every flag and the file's values as defaults.
pub fn prepare(mut command: Command, args: &[std::ffi::OsString]) -> Result<Command, ConfigError> {
    let file = match config_path(args) {
        Some(path) => Some((path.clone(), load(&path)?)),
        None => None,
    };
    let roles: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for role in roles {
        command = command.mut_subcommand(&role, |sub| {
            sub.mut_args(|arg| match arg.get_long().map(str::to_owned) {
                Some(long) if arg.get_env().is_none() && long != "config" => arg.env(env_name(&long)),
                _ => arg,
            })
        });
    }
    let (Some((path, table)), Some(role)) = (file, role_of(&command, args)) else { return Ok(command) };
    let shown = path.display().to_string();
    let sub = command.find_subcommand(&role).expect("role_of found it");
    let longs: Vec<String> = sub.get_arguments().filter_map(|a| a.get_long().map(str::to_owned)).collect();
    let mut defaults: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        if !longs.contains(&long) || long == "config" {
            return Err(ConfigError::UnknownKey { path: shown, key, role });
        }
        let values = match value {
            toml::Value::Array(items) => items.into_iter().map(scalar).collect::<Option<Vec<_>>>(),
            other => scalar(other).map(|v| vec![v]),
        };
        let values = values.ok_or_else(|| ConfigError::BadValue { path: shown.clone(), key: key.clone() })?;
        defaults.push((long, values));
    }
    Ok(command.mut_subcommand(&role, |sub| {
        sub.mut_args(|arg| match defaults.iter().find(|(long, _)| Some(long.as_str()) == arg.get_long()) {
            Some((_, values)) => arg.default_values(values.clone()).required(false),
            None => arg,
        })
    }))
}

/// A URL's password (`postgres://user:PASSWORD@host/db`) masked; anything else as it is.
fn mask_url_password(value: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(value) else { return value.to_owned() };
    if url.password().is_none() || url.set_password(Some("********")).is_err() {
        return value.to_owned();
    }
    url.to_string()
}

fn scalar(value: toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn load(path: &Path) -> Result<toml::Table, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: shown.clone(), error })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml { path: shown, error: e.to_string() })
}

/// The merged settings of the role in `matches`, as TOML, with where each came from;
/// anything that looks like a secret is masked.
pub fn print(command: &Command, matches: &ArgMatches) -> String {
    let Some((role, sub)) = matches.subcommand() else { return String::new() };
    let Some(spec) = command.find_subcommand(role) else { return String::new() };
    let mut out = format!("# outpost {role}: flags > environment (OUTPOST_*) > --config file > defaults\n");
    for arg in spec.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
        if matches!(long, "config" | "print-config" | "help" | "version") {
            continue;
        }
        let Ok(Some(raw)) = sub.try_get_raw(id) else { continue };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        // Paths to secrets (`*-file`) are shown; the secrets themselves never.
        let secret = (long.contains("password") || long.contains("secret") || long.contains("token"))
            && !long.ends_with("-file");
        let shown: Vec<String> = values
            .iter()
            .map(|v| if secret { "\"********\"".to_owned() } else { format!("{:?}", mask_url_password(v)) })
            .collect();
        let value = if shown.len() == 1 && !matches!(arg.get_action(), clap::ArgAction::Append) {
            shown[0].clone()
        } else {
            format!("[{}]", shown.join(", "))
        };
        let source = match sub.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => "file or built-in default",
            _ => "",
        };
        out.push_str(&format!("{long} = {value}  # {source}\n"));
    }
    out
}
