//! Pieces of the pages that are big enough to deserve a name.

pub mod admin_gate;
pub mod error_details;
pub mod form;
pub mod server_qr;
pub mod stepper;
