//! sim

pub mod reference;
