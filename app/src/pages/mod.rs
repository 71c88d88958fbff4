//! One module per page of the navigation.

pub mod settings;
pub mod store_data;
pub mod sync;
