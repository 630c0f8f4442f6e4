//! multiarch-core: storage, inspection, records and index stitching for multi-architecture
//! container images.
//!
//! The layers, from the bottom: [`reference`] and [`platform`] parse what users type;
//! [`store`] is the one seam over where images live (a registry repository or an OCI layout);
//! [`index`] stitches children into an index without any I/O; [`fanin`] and [`inspect`] combine
//! them into the commands' work.

pub mod auth;
pub mod build;
pub mod digest;
pub mod dockerfile;
pub mod fanin;
pub mod index;
pub mod inspect;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod record;
pub mod reference;
pub mod store;
pub mod tags;
pub mod transfer;
pub mod usage;
