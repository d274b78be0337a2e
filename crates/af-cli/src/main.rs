//! `af`: the command-line tool for array-format files — what `h5ls`,
//! `h5dump` and `h5repack` are to HDF5.
//!
//! Every command is built on the public API of the `array-format` crate.
//! Run `af --help` for the commands and `af COMMAND --help` for examples.

// Input must never make the tool panic: errors go through `anyhow` to one
// line on stderr and an exit code (see `EXIT_CODES`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::indexing_slicing)]

mod args;
mod cmd;
mod error;
mod format;
mod layout;
mod npy;
mod parse;
mod print;
mod progress;
mod select;
mod slice;
mod table;
mod target;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("af: cannot start the async runtime: {e}");
            return ExitCode::from(error::EXIT_IO);
        }
    };
    let result = runtime.block_on(cmd::run(cli.command));
    // Make sure everything printed reaches the pipe before the exit code.
    let flushed = std::io::stdout().flush();
    match result {
        Ok(code) => {
            if let Err(e) = flushed
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                eprintln!("af: cannot write the output: {e}");
                return ExitCode::from(error::EXIT_IO);
            }
            ExitCode::from(code)
        }
        Err(e) => {
            if error::is_broken_pipe(&e) {
                // `af cat ... | head`: the reader went away; not an error.
                return ExitCode::SUCCESS;
            }
            eprintln!("af: {}", error::render(&e));
            ExitCode::from(error::exit_code(&e))
        }
    }
}
