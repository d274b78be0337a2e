//! The codec choice of the command line (`none`, `lz4`, `zstd[:level]`): the
//! library's [`BuiltinCodec`](array_format::BuiltinCodec), which parses and
//! prints these specs and is a `CompressionCodec`, so that every command
//! uses one `FileConfig` type.

/// The name the command line's modules know the codec choice by.
pub use array_format::BuiltinCodec as CliCodec;
