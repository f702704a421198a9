//! The layer descriptor: the job the host writes into the `DESC` registers before `CTRL.START`.
//! Owned by the hardware (its encoding follows the engine); the driver and the RTL both use this
//! file's packing, never their own.

/// Number of 32-bit descriptor words (the `DESC` register array has exactly this many).
pub const DESC_WORDS: usize = 16;
