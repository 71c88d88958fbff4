//! What a run works from, decided once as it starts: the settings (read from SQLite once per
//! run) and whether the site is initialised (from the progress model, which loads the stored
//! flag at start and is told when the first run sets it). Steps read the plan through
//! [`super::steps::Ctx`], never the database, so a run cannot see settings change half-way.

use super::RunKind;
use crate::site::settings::Stored;

#[derive(Debug, Clone)]
pub struct Plan {
    pub settings: Stored,
    /// The site's first run succeeded: push steps run, and Pull V6 says `isInitialised`.
    pub initialised: bool,
    pub kind: RunKind,
}

impl Plan {
    /// The plan for a run of `kind`, or `None` when no run should happen: sync is not
    /// configured, or disabled (an Integrate-only run still goes, since it talks to no
    /// central).
    pub fn decide(settings: Option<Stored>, initialised: bool, kind: RunKind) -> Option<Plan> {
        match settings {
            Some(settings) if !settings.is_disabled || kind == RunKind::IntegrateOnly => {
                Some(Plan { settings, initialised, kind })
            }
            _ => None,
        }
    }
}
