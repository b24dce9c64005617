//! Capturing libbpf's own messages, and turning libbpf errors into words.
//!
//! libbpf reports through a process-wide print callback. We install ours once and keep it:
//! messages go into a buffer owned by the *calling thread* while a [`LogCapture`] is alive on
//! it (libbpf calls back synchronously, on the thread that called into it, so parallel loads
//! on different threads never mix their logs), and are dropped otherwise. Nothing reaches
//! stderr behind the caller's back.

use std::cell::RefCell;

use libbpf_rs::PrintLevel;

/// At most this many lines are kept per capture: libbpf's debug output for a large object
/// is a few thousand lines, and a verifier log is printed as one message.
const MAX_CAPTURED_MESSAGES: usize = 20_000;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<(PrintLevel, String)>>> = const { RefCell::new(None) };
}

fn on_libbpf_print(level: PrintLevel, message: String) {
    CAPTURED.with(|cell| {
        if let Some(buffer) = cell.borrow_mut().as_mut() {
            if buffer.len() < MAX_CAPTURED_MESSAGES {
                buffer.push((level, message));
            }
        }
    });
}

/// While alive, libbpf's messages on this thread are collected; dropping it stops that.
pub(crate) struct LogCapture {
    /// `-v`: every message taken is also shown on standard error, escaped.
    show: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl LogCapture {
    /// Installs the callback (idempotent) and starts collecting on this thread.
    pub(crate) fn start() -> Self {
        Self::start_showing(false)
    }

    /// Like [`start`](Self::start); with `show` (`load -v`), every message is also written
    /// to standard error as it is taken, its control characters escaped.
    pub(crate) fn start_showing(show: bool) -> Self {
        libbpf_rs::set_print(Some((PrintLevel::Debug, on_libbpf_print)));
        CAPTURED.with(|cell| *cell.borrow_mut() = Some(Vec::new()));
        LogCapture {
            show,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Removes and returns what was captured so far.
    pub(crate) fn take(&self) -> Vec<(PrintLevel, String)> {
        let messages = CAPTURED.with(|cell| {
            cell.borrow_mut()
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default()
        });
        if self.show {
            for (_, message) in &messages {
                for line in message.trim_end().lines() {
                    eprintln!("libbpf: {}", crate::report::escape_control(line));
                }
            }
        }
        messages
    }

    /// Drops what was captured so far (after a step that succeeded).
    pub(crate) fn clear(&self) {
        let _ = self.take();
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURED.with(|cell| *cell.borrow_mut() = None);
    }
}

/// The warnings among captured messages, trimmed, one per line, without libbpf's noise
/// about retries that we trigger on purpose (the ring-buffer fix-up).
pub(crate) fn warnings(messages: &[(PrintLevel, String)]) -> Vec<String> {
    messages
        .iter()
        .filter(|(level, _)| *level == PrintLevel::Warn)
        .flat_map(|(_, m)| m.lines().map(str::to_owned).collect::<Vec<_>>())
        .map(|l| l.trim_end().to_owned())
        .filter(|l| !l.is_empty() && !l.contains("Retrying without BTF"))
        .collect()
}

/// The verifier log of `program`, if libbpf printed one: the text between
/// `-- BEGIN PROG LOAD LOG --` and `-- END PROG LOAD LOG --`.
pub(crate) fn verifier_log(messages: &[(PrintLevel, String)], program: &str) -> Option<String> {
    let marker = format!("prog '{program}': -- BEGIN PROG LOAD LOG --");
    // The failing load's log is printed at Warn level; a Debug one is from a successful load.
    messages
        .iter()
        .rev()
        .filter(|(level, _)| *level == PrintLevel::Warn)
        .find_map(|(_, m)| {
            let start = m.find(&marker)? + marker.len();
            let rest = &m[start..];
            let end = rest.find("-- END PROG LOAD LOG --").unwrap_or(rest.len());
            Some(rest[..end].trim_matches('\n').to_owned())
        })
}

/// The name of the program whose load failed, from libbpf's "prog 'X': failed to load" or
/// "prog 'X': BPF program load failed" lines.
pub(crate) fn failed_program(messages: &[(PrintLevel, String)]) -> Option<String> {
    messages.iter().rev().find_map(|(_, m)| {
        for needle in ["': failed to load", "': BPF program load failed"] {
            if let Some(end) = m.find(needle) {
                let start = m[..end].rfind("prog '")? + "prog '".len();
                return Some(m[start..end].to_owned());
            }
        }
        None
    })
}

/// The OS error number inside a libbpf-rs error, if there is one.
///
/// libbpf-rs keeps it in a private `io::Error`; its alternate display ends with
/// "(os error N)".
pub(crate) fn errno(err: &libbpf_rs::Error) -> Option<i32> {
    let text = format!("{err:#}");
    let start = text.rfind("(os error ")? + "(os error ".len();
    let end = start + text[start..].find(')')?;
    text[start..end].parse().ok()
}

/// What libbpf's own error numbers (4000 and up, which `strerror` calls "Unknown error") mean.
fn libbpf_errno_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        4000 => "something is wrong in libelf",
        4001 => "the BPF object format is invalid",
        4002 => "the object's 'version' section is missing or wrong",
        4003 => "the object's byte order does not match this machine",
        4004 => "internal error in libbpf",
        4005 => "relocation failed",
        4006 => "the program failed to load for an unknown reason",
        4007 => "the kernel verifier rejected the program",
        4008 => "the program is too big",
        4009 => "the kernel version is wrong",
        4010 => "this kernel does not support the program type",
        4011 => "netlink answered with the wrong pid",
        4012 => "netlink answered out of sequence",
        4013 => "a netlink answer could not be parsed",
        _ => return None,
    })
}

/// A libbpf-rs error in words: its context chain, with libbpf's private error numbers
/// explained instead of "Unknown error 4001".
pub(crate) fn describe(err: &libbpf_rs::Error) -> String {
    let text = format!("{err:#}");
    match errno(err) {
        Some(code) if code >= 4000 => {
            let meaning = libbpf_errno_meaning(code).unwrap_or("libbpf internal error");
            match text.find("Unknown error") {
                Some(at) => format!("{}{meaning} (libbpf error {code})", &text[..at]),
                None => format!("{text} ({meaning})"),
            }
        }
        _ => text,
    }
}

/// `describe(err)`, followed by libbpf's captured warnings (if any), indented.
pub(crate) fn describe_with_log(
    err: &libbpf_rs::Error,
    messages: &[(PrintLevel, String)],
) -> String {
    let mut text = describe(err);
    let warnings = warnings(messages);
    // Keep the error short: the last lines are the ones that say why.
    let tail = warnings.len().saturating_sub(12);
    if !warnings.is_empty() {
        text.push_str("\nlibbpf said:");
        for line in &warnings[tail..] {
            text.push_str("\n  ");
            text.push_str(line.trim_start_matches("libbpf: "));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_log_is_cut_between_markers() {
        let messages = vec![
            (PrintLevel::Debug, "prog 'p': -- BEGIN PROG LOAD LOG --\nok\n-- END PROG LOAD LOG --\n".into()),
            (
                PrintLevel::Warn,
                "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n0: (b7) r0 = 0\nR0 invalid mem access\n-- END PROG LOAD LOG --\n"
                    .into(),
            ),
            (PrintLevel::Warn, "libbpf: prog 'p': failed to load: -EACCES\n".into()),
        ];
        assert_eq!(
            verifier_log(&messages, "p").as_deref(),
            Some("0: (b7) r0 = 0\nR0 invalid mem access")
        );
        assert_eq!(failed_program(&messages).as_deref(), Some("p"));
    }

    #[test]
    fn libbpf_private_errno_is_explained() {
        let err = libbpf_rs::Error::from_raw_os_error(4007);
        let text = describe(&err);
        assert!(text.contains("verifier rejected"), "{text}");
        assert!(!text.contains("Unknown error"), "{text}");
        assert_eq!(errno(&err), Some(4007));
    }
}
