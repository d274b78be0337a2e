//! Progress bars on stderr. indicatif hides them by itself when stderr is
//! not a terminal (or `TERM` is `dumb`), so pipes, files and tests see
//! nothing.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting bytes, labelled `what`.
pub fn bytes(what: &str, total: u64) -> ProgressBar {
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

/// A spinner for work whose size is unknown, labelled `what`.
pub fn spinner(what: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    if !pb.is_hidden() {
        pb.enable_steady_tick(Duration::from_millis(120));
    }
    pb
}
