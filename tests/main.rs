//! Integration tests: the real `multiarch` binary against real registries (Debian's
//! `docker-registry`), OCI layouts, and peer tools (skopeo, buildah, umoci) as judges.
//! One test binary (this file `mod`s the rest), so it links once.

#![allow(clippy::unwrap_used)]

mod harness;

mod auth;
mod bad_input;
mod build;
mod cli;
mod examples;
mod fanin;
mod faults;
mod github;
mod gitlab;
mod injection;
mod inspect;
mod interop;
mod layout;
mod load;
mod secrets;
mod tekton;
mod tutorial;
