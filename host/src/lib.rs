//! host: the sqz driver library behind the `sqz-host` binary: image loading and preprocessing
//! ([`image`]), backend selection ([`backend`]) and the command line ([`cli`]).

pub mod backend;
pub mod cli;
pub mod device;
pub mod emulate;
pub mod image;
pub mod sequencer;
