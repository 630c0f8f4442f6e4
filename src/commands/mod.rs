//! One file per verb: each turns its arguments into core calls and prints the result.

pub mod build;
pub mod inspect;
pub mod manifest_push;
pub mod record;
