//! Load-time syntax of ASL paths.
//!
//! AWS evaluates JSONPath with a permissive engine (member names in dot notation may hold
//! dashes, spaces and other punctuation), so this checker is deliberately structural: it
//! accepts what AWS accepts in the conformance set and rejects what cannot be a path at all
//! (no leading `$`, empty steps, unbalanced brackets or quotes). Reference paths, which name a
//! single location that can be written to (ResultPath), are checked strictly.

/// The root a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    /// `$`: the state's input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable (JSONPath mode).
    Variable,
}

/// Checks a JSONPath as it may appear in InputPath, OutputPath, `...Path` fields, `.$` values
/// and Choice `Variable`s. Returns the root it starts from.
pub(super) fn check_path(path: &str) -> Result<Root, String> {
    let (root, rest) = split_root(path)?;
    check_steps(rest, false)?;
    Ok(root)
}

/// Checks a reference path: `$` followed only by `.name`, `['name']` and `[index]` steps.
pub(super) fn check_reference_path(path: &str) -> Result<(), String> {
    let (root, rest) = split_root(path)?;
    if root != Root::Input {
        return Err(format!(
            "'{path}' is not a reference path: it must start with '$.' or be '$'"
        ));
    }
    check_steps(rest, true)
}

fn split_root(path: &str) -> Result<(Root, &str), String> {
    let Some(after_dollar) = path.strip_prefix('$') else {
        return Err(format!(
            "'{path}' is not a JSONPath: it must start with '$'"
        ));
    };
    if let Some(rest) = after_dollar.strip_prefix('$') {
        return Ok((Root::Context, rest));
    }
    let name_len = after_dollar.find(['.', '[']).unwrap_or(after_dollar.len());
    if name_len == 0 {
        return Ok((Root::Input, after_dollar));
    }
    let name = &after_dollar[..name_len];
    if !is_variable_name(name) {
        return Err(format!(
            "'{path}' is not a JSONPath: '${name}' is not a valid variable reference"
        ));
    }
    Ok((Root::Variable, &after_dollar[name_len..]))
}

/// Variable names: a letter or underscore, then letters, digits or underscores (Unicode letters
/// included, as AWS allows).
pub(super) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Walks the steps after the root. `reference_only` rejects everything that can select more
/// than one location.
fn check_steps(steps: &str, reference_only: bool) -> Result<(), String> {
    let bytes = steps.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if bytes.get(i + 1) == Some(&b'.') {
                    if reference_only {
                        return Err("a reference path cannot use '..' (deep scan)".to_owned());
                    }
                    i += 1;
                }
                let start = i + 1;
                let end = steps[start..]
                    .find(['.', '['])
                    .map_or(steps.len(), |n| start + n);
                let name = &steps[start..end];
                if name.is_empty() {
                    // `$..['a']` is a deep scan followed by a bracket step; anything else is an
                    // empty member name.
                    if !(bytes.get(end) == Some(&b'[')
                        && bytes.get(i) == Some(&b'.')
                        && i > 0
                        && bytes[i - 1] == b'.')
                    {
                        return Err("a path step after '.' is empty".to_owned());
                    }
                }
                if reference_only && name == "*" {
                    return Err("a reference path cannot use the wildcard '*'".to_owned());
                }
                i = end;
            }
            b'[' => {
                let close = matching_bracket(steps, i)?;
                let inner = steps[i + 1..close].trim();
                if inner.is_empty() {
                    return Err("a bracket step '[]' is empty".to_owned());
                }
                if reference_only && !is_single_selector(inner) {
                    return Err(format!(
                        "a reference path allows only ['name'] or [index] in brackets, not [{inner}]"
                    ));
                }
                i = close + 1;
            }
            _ => {
                let found = steps[i..].chars().next().unwrap_or(' ');
                return Err(format!("unexpected '{found}' after a path step"));
            }
        }
    }
    Ok(())
}

/// The index of the `]` closing the `[` at `open`, skipping quoted strings and nested brackets
/// and parentheses (filters such as `[?(@.a[0] == ']')]`).
fn matching_bracket(steps: &str, open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (offset, c) in steps[open..].char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return if c == ']' {
                        Ok(open + offset)
                    } else {
                        Err("unbalanced ')' in a path".to_owned())
                    };
                }
            }
            _ => {}
        }
    }
    Err("unclosed '[' or quote in a path".to_owned())
}

/// `'name'`, `"name"` or a non-negative integer.
fn is_single_selector(inner: &str) -> bool {
    let quoted = |q: char| {
        inner.len() >= 2
            && inner.starts_with(q)
            && inner.ends_with(q)
            && !inner[1..inner.len() - 1].contains(q)
    };
    quoted('\'') || quoted('"') || (!inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_paths_aws_accepts() {
        for path in [
            "$",
            "$.a",
            "$.a.b[0]",
            "$.a-b.c d",
            "$['a b']",
            "$..name",
            "$..['x']",
            "$.items[*].id",
            "$.items[0,1]",
            "$.items[1:3]",
            "$.items[?(@.price < 10)].name",
            "$.a[?(@.b[0] == ']')]",
            "$$.Execution.Input",
            "$$",
            "$myVar",
            "$myVar.field[2]",
            "$.*",
        ] {
            assert!(check_path(path).is_ok(), "{path}: {:?}", check_path(path));
        }
    }

    #[test]
    fn rejects_what_cannot_be_a_path() {
        for path in [
            "", "a.b", "$.", "$.a.", "$.a..", "$[", "$['a", "$.a[]", "$.a[0", "$.a[0]]", "$1abc",
            "$-x.y",
        ] {
            assert!(check_path(path).is_err(), "{path} should be rejected");
        }
    }

    #[test]
    fn roots_are_told_apart() {
        assert_eq!(check_path("$.a"), Ok(Root::Input));
        assert_eq!(check_path("$$.Map.Item.Value"), Ok(Root::Context));
        assert_eq!(check_path("$counter"), Ok(Root::Variable));
    }

    #[test]
    fn reference_paths_are_strict() {
        for path in ["$", "$.a", "$.a.b", "$.a[0]", "$['a b'].c", "$.a[\"x\"]"] {
            assert!(
                check_reference_path(path).is_ok(),
                "{path}: {:?}",
                check_reference_path(path)
            );
        }
        for path in [
            "$..a",
            "$.a[*]",
            "$.*",
            "$.a[0,1]",
            "$.a[1:2]",
            "$.a[?(@.x)]",
            "$$.Execution",
            "$var.a",
            "a",
        ] {
            assert!(
                check_reference_path(path).is_err(),
                "{path} should be rejected"
            );
        }
    }
}
