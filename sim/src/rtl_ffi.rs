//! The raw C ABI of `csrc/sqz_shim.cpp`, one function table per Verilated preset. `build.rs`
//! generates `rtl_presets.rs` (the `extern "C"` blocks and the [`BUILT`] table); this file
//! declares the types that table uses. Nothing here is safe to call directly: `sim::rtl::Rtl`
//! owns the handle and is the only caller.

#![allow(dead_code)]

use std::ffi::{c_char, c_int, c_void};

/// Return codes of the shim.
pub(crate) const SQZ_OK: c_int = 0;
pub(crate) const SQZ_ETIMEOUT: c_int = -1;
pub(crate) const SQZ_ENOTRACE: c_int = -2;
pub(crate) const SQZ_EARG: c_int = -3;

/// Stop conditions of `pump` (any one stops it).
pub(crate) const STOP_IN_DONE: u32 = 1;
pub(crate) const STOP_TLAST: u32 = 2;
pub(crate) const STOP_IRQ: u32 = 4;
pub(crate) const STOP_OUT_FULL: u32 = 8;

/// Result of one `pump` call (layout shared with the C++ `SqzPump`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SqzPump {
    pub cycles: u64,
    pub in_accepted: u64,
    pub out_count: u64,
    pub out_lasts: u64,
    pub out_bad_keep: u32,
    pub stopped: i32,
}

/// The shim's functions for one preset.
pub(crate) struct Fns {
    pub new: unsafe extern "C" fn() -> *mut c_void,
    pub free: unsafe extern "C" fn(*mut c_void),
    pub reset: unsafe extern "C" fn(*mut c_void, u32),
    pub cycles: unsafe extern "C" fn(*mut c_void) -> u64,
    pub protocol_errors: unsafe extern "C" fn(*mut c_void) -> u64,
    pub irq: unsafe extern "C" fn(*mut c_void) -> u32,
    pub set_pressure: unsafe extern "C" fn(*mut c_void, u32, u64, u32, u64, u32, u64),
    pub axil_write: unsafe extern "C" fn(*mut c_void, u32, u32, u32, u64, *mut u32) -> c_int,
    pub axil_read: unsafe extern "C" fn(*mut c_void, u32, u64, *mut u32, *mut u32) -> c_int,
    #[allow(clippy::type_complexity)]
    pub pump: unsafe extern "C" fn(
        *mut c_void,
        *const u64,
        u64,
        u32,
        *mut u64,
        *mut u8,
        u64,
        u64,
        u32,
        *mut SqzPump,
    ) -> c_int,
    pub trace_open: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
    pub trace_close: unsafe extern "C" fn(*mut c_void) -> c_int,
}

/// One Verilated preset linked into this build.
pub(crate) struct BuiltModel {
    pub name: &'static str,
    pub config_hash: u32,
    pub fns: Fns,
}

include!(concat!(env!("OUT_DIR"), "/rtl_presets.rs"));
