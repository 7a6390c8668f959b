//! JSON paths of diagnostics, in the notation AWS's messages use: `$.States.Hello.Next`, with
//! bracket notation for names that are not plain identifiers (`$.States['Say hello']`).

use std::fmt;

/// A location inside the definition, built step by step while walking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location(String);

impl Location {
    pub(crate) fn root() -> Self {
        Self("$".to_owned())
    }

    /// The location of member `name` of the object at `self`.
    pub(crate) fn key(&self, name: &str) -> Self {
        let mut out = self.0.clone();
        if is_identifier(name) {
            out.push('.');
            out.push_str(name);
        } else {
            out.push_str("['");
            for c in name.chars() {
                if c == '\'' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("']");
        }
        Self(out)
    }

    /// The location of element `index` of the array at `self`.
    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    /// Appends a path relative to `self`, as other modules report them (`$.And[0].Variable`,
    /// `.And[0]`, `And[0]` or empty for `self`).
    pub(crate) fn join_relative(&self, relative: &str) -> Self {
        let relative = relative.strip_prefix('$').unwrap_or(relative);
        if relative.is_empty() {
            self.clone()
        } else if relative.starts_with(['.', '[']) {
            Self(format!("{}{relative}", self.0))
        } else {
            Self(format!("{}.{relative}", self.0))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_use_dot_notation() {
        let path = Location::root().key("States").key("Hello").key("Next");
        assert_eq!(path.to_string(), "$.States.Hello.Next");
    }

    #[test]
    fn other_names_use_quoted_brackets_with_escapes() {
        let path = Location::root()
            .key("States")
            .key("Say 'hi'")
            .key("Retry")
            .index(2);
        assert_eq!(path.to_string(), r"$.States['Say \'hi\''].Retry[2]");
        assert_eq!(Location::root().key("").to_string(), "$['']");
        assert_eq!(Location::root().key("key.$").to_string(), "$['key.$']");
    }

    #[test]
    fn relative_paths_are_appended() {
        let rule = Location::root().key("Choices").index(0);
        assert_eq!(rule.join_relative("").to_string(), "$.Choices[0]");
        assert_eq!(
            rule.join_relative("$.And[1]").to_string(),
            "$.Choices[0].And[1]"
        );
        assert_eq!(rule.join_relative("[2]").to_string(), "$.Choices[0][2]");
        assert_eq!(
            rule.join_relative("Not.Variable").to_string(),
            "$.Choices[0].Not.Variable"
        );
    }
}
