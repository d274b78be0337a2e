//! The library's integration tests, as one test binary: each module was
//! once a binary of its own, and linking one binary instead of a dozen is
//! most of what a cold `cargo test` costs. `tests/memory.rs` stays apart:
//! it measures the process's peak resident set, which tests running beside
//! it in the same process would distort.

mod common;

mod azure;
mod codecs;
mod conformance;
mod corruption;
mod crash;
mod crash_parts;
mod dtypes;
mod file_attrs;
mod fuzz_driver;
mod history;
mod index;
mod locations;
mod lost_replies;
mod model;
mod old_formats;
mod parts;
mod pipelines;
mod preconditions;
mod processes;
mod read_units;
mod requests;
mod retention;
mod s3;
mod semantics;
mod validation;
mod write_buffer;
mod writers;
