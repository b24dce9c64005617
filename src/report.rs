//! What integrity checks report: one finding per problem, with a severity and a stable
//! code, shared by `verify`, the signature checks and every report that lists problems.

use serde::Serialize;

/// How a problem counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported, but the layout is intact (unless `--strict`).
    Warning,
    /// The layout is damaged: exit code 1.
    Error,
}

/// One finding, naming the entry, the digest, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error, or warning.
    pub severity: Severity,
    /// A stable machine-readable code (`digest-mismatch`, `missing-blob`, …).
    pub code: &'static str,
    /// The entry concerned, relative to the root (`blobs/sha256/…`, `index.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The digest concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What the referencing descriptor or the spec says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// A sentence for people.
    pub message: String,
}

/// Makes a string that came from input (a ref name, a symbol name, a file name in an
/// archive, libbpf's or the verifier's words) safe to print on a terminal.
///
/// Every control character is shown as an escape instead of acting: C0 as `\x1b`
/// (`\n`, `\r`, `\t` by those names), DEL as `\x7f`, C1 as `\u{9b}`. So an ESC, CSI or
/// OSC sequence or a BEL cannot set the window title, clear the screen or forge lines of
/// output. Printable Unicode is kept as it is. Text with nothing to escape is borrowed.
/// Human output only: JSON output escapes through serde_json. Multi-line text whose line
/// breaks are meant (an error with a verifier log) is escaped one line at a time.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// JSON text made safe for a terminal without changing what it means: serde_json escapes
/// C0 but writes DEL and C1 (`U+0080`‥`U+009F`, the one-byte CSI among them) raw, so those
/// are written as `\u007f`, `\u009b`. They can only occur inside strings, where the escape
/// decodes to the same character. Text with nothing to escape is borrowed.
pub fn escape_json_controls(json: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    let raw = |c: char| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c);
    if !json.chars().any(raw) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if raw(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{escape_control, escape_json_controls};

    #[test]
    fn json_keeps_its_meaning_with_del_and_c1_escaped() {
        let value = serde_json::json!({"name": "a\u{9b}2J\u{7f}\u{1b}é"});
        let text = serde_json::to_string(&value).unwrap();
        let safe = escape_json_controls(&text);
        assert_eq!(safe, r#"{"name":"a\u009b2J\u007f\u001bé"}"#);
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn control_characters_are_shown_escaped_and_printable_text_is_kept() {
        assert_eq!(escape_control("probe:1.2"), "probe:1.2");
        assert_eq!(escape_control("sondé→ü"), "sondé→ü");
        assert_eq!(
            escape_control("a\x1b]0;pwned\x07b\x1b[2J"),
            "a\\x1b]0;pwned\\x07b\\x1b[2J"
        );
        assert_eq!(escape_control("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        assert_eq!(escape_control("x\x7f\x00"), "x\\x7f\\x00");
        assert_eq!(escape_control("l1\nl2\r\t"), "l1\\nl2\\r\\t");
    }
}
