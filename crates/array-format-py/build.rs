//! Lets test and example binaries of this crate link libpython: maturin
//! builds the extension module without it, but `cargo test --workspace`
//! links every crate of the workspace into an executable.

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
