//! Fuzz target `open_read`: see `fuzz/targets_common.rs`. The input is the base object `f.af` of a one-layer file.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common {
    include!("../targets_common.rs");
}

fuzz_target!(|data: &[u8]| {
    common::open_read(data);
});
