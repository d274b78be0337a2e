//! Fuzz target `footer_decode`: see `fuzz/targets_common.rs`. The input is a footer (after an optional data region), given a correct trailer.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod common {
    include!("../targets_common.rs");
}

fuzz_target!(|data: &[u8]| {
    common::footer_decode(data);
});
