//! Hive-style partition directories (`dt=2026-11-24/hour=10`): escaping as Flink does, and
//! parsing a file's path back into partition values.

use std::collections::BTreeMap;
use std::path::Path;

/// Whether `c` must be escaped in a partition directory name (Flink's set of characters).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '"' | '#'
                | '%'
                | '\''
                | '*'
                | '/'
                | ':'
                | '='
                | '?'
                | '\\'
                | '\x7F'
                | '{'
                | '['
                | ']'
                | '^'
        )
}

/// Escape a partition name or value for use in a directory name (`%XX` for special characters).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if needs_escape(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Undo [`escape`]; malformed escapes are kept as they are.
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The partition values in the directories between `root` and the file `file` (`k=v` parts,
/// unescaped; a later directory wins over an earlier one with the same name).
pub fn parse_partitions(root: &Path, file: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let rel = file.strip_prefix(root).unwrap_or(file);
    let Some(dir) = rel.parent() else {
        return out;
    };
    for comp in dir.components() {
        let part = comp.as_os_str().to_string_lossy();
        if let Some((k, v)) = part.split_once('=') {
            out.insert(unescape(k), unescape(v));
        }
    }
    out
}

/// The relative directory `k1=v1/k2=v2` of a row's partition values (None or empty: the default
/// name).
pub fn partition_dir(keys: &[String], values: &[Option<&str>], default_name: &str) -> String {
    let mut out = String::new();
    for (k, v) in keys.iter().zip(values) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&escape(k));
        out.push('=');
        match v {
            Some(v) if !v.is_empty() => out.push_str(&escape(v)),
            _ => out.push_str(&escape(default_name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escape_round_trip() {
        for s in ["2026-11-24", "a/b=c", "10:00", "50%", "plain", "ünï"] {
            assert_eq!(unescape(&escape(s)), s);
        }
        assert_eq!(escape("a/b"), "a%2Fb");
        assert_eq!(escape("10:00"), "10%3A00");
        assert_eq!(unescape("bad%zz%"), "bad%zz%");
    }

    #[test]
    fn parse_and_build() {
        let root = Path::new("/data");
        let p = parse_partitions(root, Path::new("/data/dt=2026-11-24/hour=10/part-0"));
        assert_eq!(p.get("dt").map(String::as_str), Some("2026-11-24"));
        assert_eq!(p.get("hour").map(String::as_str), Some("10"));
        assert!(parse_partitions(root, Path::new("/data/f.txt")).is_empty());
        let keys = vec!["dt".to_string(), "h".to_string()];
        assert_eq!(
            partition_dir(&keys, &[Some("x/y"), None], "__D__"),
            "dt=x%2Fy/h=__D__"
        );
        assert_eq!(
            partition_dir(&keys, &[Some(""), Some("1")], "D"),
            "dt=D/h=1"
        );
    }
}
