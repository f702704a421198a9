//! host: the sqz driver library behind the `sqz-host` binary: image loading and preprocessing
//! ([`image`]), backend selection ([`backend`]), the card backends ([`card`]) over the device
//! boundary ([`device`]), the command line ([`cli`]) and the performance report of `bench`
//! ([`perf_report`]).

pub mod backend;
pub mod card;
pub mod cli;
pub mod device;
pub mod emulate;
pub mod fidelity;
pub mod image;
pub mod perf_report;
pub mod sequencer;
