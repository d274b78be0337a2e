//! Fuzz target `open_layers`: see `fuzz/targets_common.rs`. The input is one or two layers (`f.1.af`, `f.2.af`) above a fixed valid base.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common {
    include!("../targets_common.rs");
}

fuzz_target!(|data: &[u8]| {
    common::open_layers(data);
});
