//! host: the sqz driver library behind the `sqz-host` binary.
pub mod image;
