//! What most tests use, for one glob import: `use outpost_testkit::prelude::*;`.

pub use crate::admin::{ADMIN_PASSWORD, admin_client, login_cookie};
pub use crate::clients::{V5Site, V6Site, asset, location, push_record, v5_error, v6_record};
pub use crate::db::{TestDb, databases};
pub use crate::relay::{Hold, Relay, When};
pub use crate::site::{TestSite, fast};
pub use crate::wait::{eventually, silent_server};
pub use crate::world::{World, add_site, any_port, start_v5, start_v5_with, trust_this_machine};
