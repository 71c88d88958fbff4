//! The site server over HTTP: health, server info, the app's files, and the Store data API.

mod http;
mod store_data;
