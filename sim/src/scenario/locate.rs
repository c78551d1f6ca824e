//! Key path → line number, for error messages (`scenario.toml:12: `fault[2].target`: ...`).
//!
//! Only used on the error path: the text is parsed again with spans (`toml::de::DeTable`) and the
//! path (`fault[2].spec.override.expiresAt`, `fault[0].between[1]`) is walked as far as it exists.
//! The line is that of the last key found (for a missing key: of its table's header, if any).

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a key path.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        out.push(Step::Key(key));
        while let Some((index, after)) = rest.split_once(']') {
            if let Ok(i) = index.parse() {
                out.push(Step::Index(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

/// The 1-based line of `path` in `text`, or of the nearest enclosing table found; `None` when
/// nothing of the path exists (e.g. a missing top-level key).
pub(super) fn line_of(text: &str, path: &str) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let mut value: Option<&DeValue> = None;
    let mut table: &DeTable = document.get_ref();
    let mut span: Option<Range<usize>> = None;
    for step in steps(path) {
        let next: Option<&Spanned<DeValue>> = match (step, value) {
            (Step::Key(key), _) => {
                let found = table.iter().find(|(k, _)| k.get_ref().as_ref() == key);
                if let Some((k, _)) = found {
                    span = Some(k.span());
                }
                found.map(|(_, v)| v)
            }
            (Step::Index(i), Some(DeValue::Array(items))) => {
                let item = items.get(i);
                if let Some(item) = item {
                    span = Some(item.span());
                }
                item
            }
            (Step::Index(_), _) => None,
        };
        let Some(next) = next else { break };
        value = Some(next.get_ref());
        if let DeValue::Table(t) = next.get_ref() {
            table = t;
        }
    }
    let start = span?.start;
    Some(text.get(..start)?.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\nduration = \"1m\"\n\n[timing]\nlease_duration = 15\n\n[[fault]]\nat = \"1m\"\n\n[[fault]]\nat = \"2m\"\nkind = \"patch\"\nspec = { override = { expiresAt = 5 } }\nbetween = [\"a\", \"b\"]\n";

    #[test]
    fn key_paths_are_found_on_their_lines() {
        assert_eq!(line_of(TEXT, "duration"), Some(2));
        assert_eq!(line_of(TEXT, "timing.lease_duration"), Some(5));
        assert_eq!(line_of(TEXT, "fault[1].kind"), Some(12));
        assert_eq!(line_of(TEXT, "fault[1].spec.override.expiresAt"), Some(13));
        assert_eq!(line_of(TEXT, "fault[1].between[1]"), Some(14));
    }

    #[test]
    fn a_missing_key_points_at_its_table_or_nowhere() {
        assert_eq!(
            line_of(TEXT, "fault[0].kind").map(|l| (7..=8).contains(&l)),
            Some(true)
        );
        assert_eq!(line_of(TEXT, "region"), None);
    }
}
