//! A closed stdout (`purgeflow ... | head -1`) ends the command quietly, as command-line tools
//! do, instead of with a panic and exit code 101.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe`, and `println!`
//! turns that failure into a panic ("failed printing to stdout: Broken pipe"). Restoring
//! SIGPIPE's default action would need `unsafe`, which the workspace forbids, and routing every
//! print of every command through a checked writer would spread this concern over each module.
//! So it is handled in this one place: a panic hook that recognises exactly that panic and
//! exits with 141 (128 + SIGPIPE, what a shell reports for a tool the signal ended) and no
//! message. Every other panic goes to the default hook unchanged.

use std::panic::PanicHookInfo;

/// What a shell reports for a process ended by SIGPIPE (128 + 13).
pub(crate) const BROKEN_PIPE_EXIT: i32 = 141;

/// Installs the hook; call once, first thing in `main`.
pub(crate) fn install() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_stdout_broken_pipe(info) {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default_hook(info);
    }));
}

/// Whether the panic is `print!`/`println!` failing on a closed stdout.
fn is_stdout_broken_pipe(info: &PanicHookInfo<'_>) -> bool {
    info.payload_as_str().is_some_and(is_broken_pipe_message)
}

/// std's message is `failed printing to stdout: {io::Error}`; EPIPE displays as
/// `Broken pipe (os error 32)` on Linux and macOS.
fn is_broken_pipe_message(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_stdout_is_recognised() {
        assert!(is_broken_pipe_message(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe_message(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_broken_pipe_message("index out of bounds"));
    }
}
