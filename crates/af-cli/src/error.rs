//! Exit codes and the one-line rendering of errors.

use array_format::Error as AfError;

/// The file is damaged.
pub const EXIT_DAMAGED: u8 = 1;
/// Usage or input error.
pub const EXIT_USAGE: u8 = 2;
/// Storage or I/O failure.
pub const EXIT_IO: u8 = 3;

/// An input error found by the tool itself (bad slice, array exists, ...).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Damage found by the tool itself (for example while reading a layer's
/// footer to report its sizes).
#[derive(Debug)]
pub struct Damaged(pub String);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Damaged {}

/// An input error with `msg`.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

fn library_code(e: &AfError) -> u8 {
    match e {
        AfError::Corrupted { .. } | AfError::Codec { .. } => EXIT_DAMAGED,
        AfError::Storage { .. }
        | AfError::Io { .. }
        | AfError::Conflict { .. }
        | AfError::Vanished { .. } => EXIT_IO,
        _ => EXIT_USAGE,
    }
}

/// The exit code for `e`: decided by the first error in its chain whose
/// kind is known.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<Usage>() {
            return EXIT_USAGE;
        }
        if cause.is::<Damaged>() {
            return EXIT_DAMAGED;
        }
        if let Some(af) = cause.downcast_ref::<AfError>() {
            return library_code(af);
        }
        if cause.is::<clap::Error>() {
            return EXIT_USAGE;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData => EXIT_USAGE,
                _ => EXIT_IO,
            };
        }
    }
    EXIT_USAGE
}

/// Whether `e` comes from writing to a closed pipe (`af cat ... | head`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `context: cause: cause`, leaving out causes that the message before
/// them already quotes (library errors print their source themselves).
pub fn render(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if s.is_empty() || parts.last().is_some_and(|p| p.contains(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_follow_the_root_cause() {
        let e = Err::<(), _>(AfError::FileNotFound {
            path: "x.af".into(),
        })
        .context("cannot open x.af")
        .unwrap_err();
        assert_eq!(exit_code(&e), EXIT_USAGE);
        assert_eq!(render(&e), "cannot open x.af: no array-format file at x.af");
        let e = anyhow::Error::new(AfError::Corrupted {
            path: "x.1.af".into(),
            what: "bad".into(),
        });
        assert_eq!(exit_code(&e), EXIT_DAMAGED);
        assert_eq!(exit_code(&usage("bad slice")), EXIT_USAGE);
        let io = anyhow::Error::new(std::io::Error::other("disk full"));
        assert_eq!(exit_code(&io), EXIT_IO);
    }
}
