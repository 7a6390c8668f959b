//! ASL path syntax: parses the Jayway-flavoured JSONPath that Step Functions accepts into a small
//! AST, and renders it back as RFC 9535 text (for serde_json_path) or as Jayway's normalized form
//! (`$['a'][0]`, the form AWS quotes in its cause strings).
//!
//! Why not hand the text straight to serde_json_path: ASL paths are Jayway paths. They start with
//! `$$` (context object) or `$name` (a variable), allow property names RFC 9535 rejects after a
//! dot (`$.delivery-partner`), and quote bracketed names with Jayway's escaping, where a backslash
//! only escapes the closing quote (`$['Test\""Name"']` names the key `Test\""Name"`).

use std::fmt::Write as _;

/// Upper bound on the segments of one path: keeps hostile definitions from building huge ASTs.
const MAX_SEGMENTS: usize = 1024;

/// Which document a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the state's input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable (JSONPath-mode variable reference).
    Variable(String),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`.
    Name(String),
    /// `[3]` or `[-1]` (negative counts from the end, as in Jayway).
    Index(i64),
    /// `.*` or `[*]`.
    Wildcard,
    /// Anything that can select several nodes and that we leave to serde_json_path: slices,
    /// unions, filters, deep scans. Stored as RFC 9535 segment text, e.g. `[1:5]` or `..['a']`.
    Indefinite(String),
}

/// A parsed ASL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AslPath {
    pub root: Root,
    pub segments: Vec<Segment>,
}

impl AslPath {
    /// Jayway's notion of a definite path: it can select at most one node. A definite path that
    /// selects nothing is an error; an indefinite one yields an empty array.
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Name(_) | Segment::Index(_)))
    }

    /// True for a reference path (ResultPath and friends): names and single indices only.
    pub fn is_reference_path(&self) -> bool {
        self.is_definite()
    }

    /// The path as RFC 9535 text, rooted at `$` (the root document has already been chosen).
    pub fn to_rfc9535(&self) -> String {
        let mut out = String::from("$");
        for segment in &self.segments {
            match segment {
                Segment::Name(name) => {
                    out.push('[');
                    push_rfc_string(&mut out, name);
                    out.push(']');
                }
                Segment::Index(index) => {
                    let _ = write!(out, "[{index}]");
                }
                Segment::Wildcard => out.push_str("[*]"),
                Segment::Indefinite(text) => out.push_str(text),
            }
        }
        out
    }

    /// Jayway's normalized form of the first `len` segments (`$['a']['b'][0]`), rooted at `$`,
    /// as AWS quotes it in "No results for path" causes.
    pub fn normalized_prefix(&self, len: usize) -> String {
        let mut out = String::from("$");
        for segment in self.segments.iter().take(len) {
            match segment {
                Segment::Name(name) => {
                    let _ = write!(out, "['{name}']");
                }
                Segment::Index(index) => {
                    let _ = write!(out, "[{index}]");
                }
                Segment::Wildcard => out.push_str("[*]"),
                Segment::Indefinite(text) => out.push_str(text),
            }
        }
        out
    }

    pub fn normalized(&self) -> String {
        self.normalized_prefix(self.segments.len())
    }
}

/// Appends `s` as an RFC 9535 single-quoted string literal.
fn push_rfc_string(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// True when `c` can start a variable name after `$` (`$myVar`).
fn is_variable_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_variable_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Parses an ASL path. The `Err` is a plain message saying what is wrong.
pub(crate) fn parse(path: &str) -> Result<AslPath, String> {
    // Jayway trims the path before compiling it.
    let path = path.trim();
    let (root, rest) = if let Some(rest) = path.strip_prefix("$$") {
        (Root::Context, rest)
    } else if let Some(rest) = path.strip_prefix('$') {
        match rest.chars().next() {
            Some(c) if is_variable_start(c) => {
                let end = rest
                    .find(|c: char| !is_variable_char(c))
                    .unwrap_or(rest.len());
                (Root::Variable(rest[..end].to_owned()), &rest[end..])
            }
            _ => (Root::Input, rest),
        }
    } else {
        return Err(format!("the path '{path}' does not start with '$'"));
    };
    let segments = Parser {
        chars: rest.char_indices().collect(),
        pos: 0,
        text: rest,
    }
    .segments()?;
    Ok(AslPath { root, segments })
}

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).map(|&(_, c)| c)
    }

    fn byte_offset(&self) -> usize {
        self.chars
            .get(self.pos)
            .map_or(self.text.len(), |&(i, _)| i)
    }

    fn segments(mut self) -> Result<Vec<Segment>, String> {
        let mut segments = Vec::new();
        while let Some(c) = self.peek() {
            if segments.len() >= MAX_SEGMENTS {
                return Err(format!("the path has more than {MAX_SEGMENTS} segments"));
            }
            match c {
                '.' if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    segments.push(self.deep_scan()?);
                }
                // Jayway accepts a dot before a bracket: `$.['a']` is `$['a']`.
                '.' if self.peek_at(1) == Some('[') => self.pos += 1,
                '.' => {
                    self.pos += 1;
                    segments.push(self.dot_member()?);
                }
                '[' => segments.push(self.bracket()?),
                other => return Err(format!("unexpected character '{other}' in the path")),
            }
        }
        Ok(segments)
    }

    /// After `..`: `..name`, `..*` or `..[...]`, left to serde_json_path.
    fn deep_scan(&mut self) -> Result<Segment, String> {
        let inner = match self.peek() {
            Some('[') => self.bracket()?,
            Some(_) => self.dot_member()?,
            None => return Err("the path ends with '..'".to_owned()),
        };
        let text = match inner {
            Segment::Name(name) => {
                let mut s = String::from("..[");
                push_rfc_string(&mut s, &name);
                s.push(']');
                s
            }
            Segment::Index(i) => format!("..[{i}]"),
            Segment::Wildcard => "..[*]".to_owned(),
            Segment::Indefinite(text) => format!("..{text}"),
        };
        Ok(Segment::Indefinite(text))
    }

    /// After `.`: `*` or a property name, which runs to the next `.` or `[` (Jayway accepts
    /// names such as `delivery-partner` here).
    fn dot_member(&mut self) -> Result<Segment, String> {
        if self.peek() == Some('*') {
            self.pos += 1;
            return Ok(Segment::Wildcard);
        }
        let start = self.byte_offset();
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' {
                break;
            }
            if c == '(' || c == ')' {
                return Err("functions in paths (such as length()) are not supported".to_owned());
            }
            if c.is_whitespace() {
                return Err("unexpected whitespace in the path".to_owned());
            }
            self.pos += 1;
        }
        let name = &self.text[start..self.byte_offset()];
        if name.is_empty() {
            return Err("a property name is missing after '.'".to_owned());
        }
        Ok(Segment::Name(name.to_owned()))
    }

    /// A bracketed segment: `['name']`, `["name"]`, `[0]`, `[*]`, `[1:5]`, `[0,1]`,
    /// `['a','b']`, `[?(...)]`.
    fn bracket(&mut self) -> Result<Segment, String> {
        self.pos += 1; // '['
        self.skip_whitespace();
        match self.peek() {
            Some('\'' | '"') => self.quoted_names(),
            Some('*') => {
                self.pos += 1;
                self.expect_close()?;
                Ok(Segment::Wildcard)
            }
            Some('?') => self.filter(),
            Some(_) => self.indices(),
            None => Err("unterminated '[' in the path".to_owned()),
        }
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect_close(&mut self) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.pos += 1;
            Ok(())
        } else {
            Err("expected ']' in the path".to_owned())
        }
    }

    /// One or more quoted names separated by commas.
    fn quoted_names(&mut self) -> Result<Segment, String> {
        let mut names = Vec::new();
        loop {
            self.skip_whitespace();
            names.push(self.quoted()?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err("expected ',' or ']' after a quoted name in the path".to_owned()),
            }
        }
        if names.len() == 1 {
            return Ok(Segment::Name(names.remove(0)));
        }
        let mut text = String::from("[");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_rfc_string(&mut text, name);
        }
        text.push(']');
        Ok(Segment::Indefinite(text))
    }

    /// A quoted name, Jayway style: a backslash escapes the closing quote and itself; any other
    /// backslash is kept as written (AWS matches `$['Test\""Name"']` against the key
    /// `Test\""Name"`, see the ESCAPE_SEQUENCES_JSONPATH conformance case).
    fn quoted(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err("expected a quoted name in the path".to_owned());
        };
        self.pos += 1;
        let mut name = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted name in the path".to_owned()),
                Some('\\') => match self.peek_at(1) {
                    Some(c) if c == quote || c == '\\' => {
                        name.push(c);
                        self.pos += 2;
                    }
                    _ => {
                        name.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(name);
                }
                Some(c) => {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `[?(...)]`: the filter text runs to the `]` that closes the bracket, skipping nested
    /// brackets and quoted strings. RFC 9535 accepts Jayway's parenthesised form as is.
    fn filter(&mut self) -> Result<Segment, String> {
        let start = self.byte_offset();
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match quote {
                Some(q) => {
                    if c == '\\' {
                        self.pos += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '[' | '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ']' if depth == 0 => {
                        let body = self.text[start..self.byte_offset()].trim_end().to_owned();
                        self.pos += 1;
                        return Ok(Segment::Indefinite(format!("[{body}]")));
                    }
                    ']' => depth -= 1,
                    _ => {}
                },
            }
            self.pos += 1;
        }
        Err("unterminated filter in the path".to_owned())
    }

    /// `[0]`, `[-1]`, `[1:5]`, `[::2]`, `[0,2]`.
    fn indices(&mut self) -> Result<Segment, String> {
        let start = self.byte_offset();
        while let Some(c) = self.peek() {
            if c == ']' {
                break;
            }
            if !(c.is_ascii_digit() || matches!(c, '-' | ':' | ',' | ' ')) {
                return Err(format!(
                    "unexpected character '{c}' in a bracket of the path"
                ));
            }
            self.pos += 1;
        }
        if self.peek() != Some(']') {
            return Err("unterminated '[' in the path".to_owned());
        }
        let body: String = self.text[start..self.byte_offset()]
            .chars()
            .filter(|c| *c != ' ')
            .collect();
        self.pos += 1;
        if body.is_empty() {
            return Err("empty brackets in the path".to_owned());
        }
        if !body.contains([':', ',']) {
            let index = body
                .parse::<i64>()
                .map_err(|_| format!("'{body}' is not a valid array index"))?;
            return Ok(Segment::Index(index));
        }
        for part in body.split(',') {
            for bound in part.split(':') {
                if !bound.is_empty() && bound.parse::<i64>().is_err() {
                    return Err(format!("'{bound}' is not a valid array index"));
                }
            }
            if part.split(':').count() > 3 || part.is_empty() {
                return Err(format!("'{part}' is not a valid array slice"));
            }
        }
        Ok(Segment::Indefinite(format!("[{body}]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &str) -> Vec<Segment> {
        parse(path).expect("path parses").segments
    }

    #[test]
    fn roots() {
        assert_eq!(parse("$").expect("parses").root, Root::Input);
        assert_eq!(parse("$$").expect("parses").root, Root::Context);
        assert_eq!(
            parse("$$.Execution.Id").expect("parses").root,
            Root::Context
        );
        let var = parse("$my_var1.a").expect("parses");
        assert_eq!(var.root, Root::Variable("my_var1".to_owned()));
        assert_eq!(var.segments, vec![Segment::Name("a".to_owned())]);
        assert!(parse("a.b").is_err());
    }

    #[test]
    fn dotted_and_bracketed_names() {
        assert_eq!(
            names("$.a.delivery-partner[0]['x y'][\"z\"][-1]"),
            vec![
                Segment::Name("a".into()),
                Segment::Name("delivery-partner".into()),
                Segment::Index(0),
                Segment::Name("x y".into()),
                Segment::Name("z".into()),
                Segment::Index(-1),
            ]
        );
    }

    #[test]
    fn jayway_leniencies() {
        assert_eq!(names(" $.a "), vec![Segment::Name("a".into())]);
        assert_eq!(
            names("$.['a'].[0]"),
            vec![Segment::Name("a".into()), Segment::Index(0)]
        );
    }

    #[test]
    fn jayway_quote_escaping_keeps_other_backslashes() {
        // From the ESCAPE_SEQUENCES_JSONPATH case: the key is `Test\""Name"`.
        assert_eq!(
            names(r#"$['Test\""Name"']"#),
            vec![Segment::Name(r#"Test\""Name""#.into())]
        );
        assert_eq!(names(r"$['it\'s']"), vec![Segment::Name("it's".into())]);
    }

    #[test]
    fn indefinite_segments() {
        let p = parse("$.items[*].v").expect("parses");
        assert!(!p.is_definite());
        assert_eq!(p.to_rfc9535(), "$['items'][*]['v']");
        assert_eq!(
            parse("$.a[1:5]").expect("parses").to_rfc9535(),
            "$['a'][1:5]"
        );
        assert_eq!(
            parse("$.a[0,2]").expect("parses").to_rfc9535(),
            "$['a'][0,2]"
        );
        assert_eq!(parse("$..a").expect("parses").to_rfc9535(), "$..['a']");
        assert_eq!(
            parse("$.a[?(@.x > 1)]").expect("parses").to_rfc9535(),
            "$['a'][?(@.x > 1)]"
        );
        assert_eq!(
            parse("$.a[?(@.n == ']')].b").expect("parses").to_rfc9535(),
            "$['a'][?(@.n == ']')]['b']"
        );
    }

    #[test]
    fn normalized_form_matches_jayway() {
        let p = parse("$.a.b[3]").expect("parses");
        assert_eq!(p.normalized(), "$['a']['b'][3]");
        assert_eq!(p.normalized_prefix(1), "$['a']");
    }

    #[test]
    fn rfc_rendering_escapes_quotes_and_backslashes() {
        let p = parse(r#"$['Test\""Name"']"#).expect("parses");
        assert_eq!(p.to_rfc9535(), r#"$['Test\\""Name"']"#);
        assert!(serde_json_path::JsonPath::parse(&p.to_rfc9535()).is_ok());
    }

    #[test]
    fn malformed_paths_are_errors() {
        for bad in [
            "$.",
            "$[",
            "$['a'",
            "$.a[x]",
            "$.a.length()",
            "$..",
            "$[]",
            "$.a b",
            "$[?(@.a]",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
