//! sim

pub mod reference;
pub mod rtl;
