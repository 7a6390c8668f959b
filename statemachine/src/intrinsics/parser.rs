//! Tokenizer and recursive-descent parser for intrinsic function calls, e.g.
//! `States.Format('Hello {}', States.ArrayGetItem($.names, 0))`.
//!
//! Grammar (ASL spec, "Intrinsic functions"):
//!
//! ```text
//! call     := NAME '(' [ argument { ',' argument } ] ')'
//! argument := STRING | NUMBER | 'true' | 'false' | 'null' | PATH | call
//! ```
//!
//! String literals are single-quoted; a backslash escapes `'`, `{`, `}` and `\`. The literal is
//! kept raw (escapes unprocessed) so that `States.Format` can tell an escaped `\{` from a `{}`
//! placeholder; [`unescape`] gives the plain value.

use serde_json::Number;

/// Nesting limit: hostile definitions must not overflow the stack.
const MAX_DEPTH: usize = 64;

/// A parsed intrinsic expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// A string literal, raw: the text between the quotes with escapes unprocessed.
    Str(String),
    Number(Number),
    Bool(bool),
    Null,
    /// `$...`, `$$...` or `$var...`, evaluated as a JSONPath.
    Path(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Number(Number),
    Path(String),
    Open,
    Close,
    Comma,
}

/// Parses a whole intrinsic expression: exactly one function call, nothing after it.
pub(crate) fn parse(expr: &str) -> Result<Expr, String> {
    let tokens = tokenize(expr)?;
    let mut parser = Parser { tokens, pos: 0 };
    let call = parser.call(0)?;
    if parser.pos != parser.tokens.len() {
        return Err(format!(
            "unexpected text after the end of the function call in '{expr}'"
        ));
    }
    Ok(call)
}

/// The plain value of a raw string literal: `\'`, `\{`, `\}` and `\\` lose their backslash.
/// The tokenizer accepts no other escape in a literal; a template read from a path may hold
/// other backslashes, which are kept as written.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '\'' | '{' | '}' | '\\')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

fn tokenize(expr: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' => {
                let (raw, next) = string_literal(&chars, i)?;
                tokens.push(Token::Str(raw));
                i = next;
            }
            '$' => {
                let (path, next) = path_argument(&chars, i)?;
                tokens.push(Token::Path(path));
                i = next;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | '+' | '.'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                tokens.push(Token::Number(parse_number(&text)?));
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '_'))
                {
                    i += 1;
                }
                tokens.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}' in '{expr}'")),
        }
    }
    Ok(tokens)
}

/// A single-quoted literal starting at `start`; returns the raw body and the index after it.
fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let mut raw = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' => match chars.get(i + 1) {
                Some(&next) if matches!(next, '\'' | '{' | '}' | '\\') => {
                    raw.push('\\');
                    raw.push(next);
                    i += 2;
                }
                // AWS documents only these four escapes. GUESS: it rejects any other (such as
                // `\"`) as a syntax error; the recorded escape-sequence case keeps such a call in
                // `Result`, where it is never evaluated.
                Some(&next) => {
                    return Err(format!(
                        "invalid escape sequence '\\{next}' in a string literal"
                    ));
                }
                None => return Err("unterminated string literal (missing closing ')".to_owned()),
            },
            '\'' => return Ok((raw, i + 1)),
            c => {
                raw.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated string literal (missing closing ')".to_owned())
}

/// A path argument runs to the next `,` or `)` outside brackets, parentheses and quotes (a
/// filter such as `$.a[?(@.b == 1)]` contains both).
fn path_argument(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut i = start;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == '\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                ',' if depth == 0 => break,
                _ => {}
            },
        }
        i += 1;
    }
    if quote.is_some() {
        return Err("unterminated quoted name in a path argument".to_owned());
    }
    let path: String = chars[start..i].iter().collect();
    Ok((path.trim_end().to_owned(), i))
}

fn parse_number(text: &str) -> Result<Number, String> {
    // Integers stay integers (`6`, not `6.0`), as AWS prints them.
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Number::from(i));
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("'{text}' is not a valid number"))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn call(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "intrinsic functions are nested more than {MAX_DEPTH} deep"
            ));
        }
        let name = match self.next() {
            Some(Token::Name(name)) => name,
            _ => return Err("expected an intrinsic function name such as States.Format".to_owned()),
        };
        if self.next() != Some(Token::Open) {
            return Err(format!("expected '(' after {name}"));
        }
        let mut args = Vec::new();
        if self.peek() == Some(&Token::Close) {
            self.pos += 1;
            return Ok(Expr::Call { name, args });
        }
        loop {
            args.push(self.argument(depth)?);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(Expr::Call { name, args }),
                _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
            }
        }
    }

    fn argument(&mut self, depth: usize) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Str(raw)) => {
                self.pos += 1;
                Ok(Expr::Str(raw))
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                Ok(Expr::Number(n))
            }
            Some(Token::Path(p)) => {
                self.pos += 1;
                Ok(Expr::Path(p))
            }
            Some(Token::Name(name)) => match name.as_str() {
                "true" | "false" | "null"
                    if self.tokens.get(self.pos + 1) != Some(&Token::Open) =>
                {
                    self.pos += 1;
                    Ok(match name.as_str() {
                        "true" => Expr::Bool(true),
                        "false" => Expr::Bool(false),
                        _ => Expr::Null,
                    })
                }
                _ => self.call(depth + 1),
            },
            _ => Err(
                "expected an argument (a string, number, boolean, null, path or function call)"
                    .to_owned(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: name.to_owned(),
            args,
        }
    }

    #[test]
    fn parses_literals_paths_and_nested_calls() {
        let parsed = parse("States.Format('a {} \\'b\\'', $.x, $$.Map.Item.Value, $var, 1, -2.5, true, false, null, States.UUID())")
            .expect("parses");
        assert_eq!(
            parsed,
            call(
                "States.Format",
                vec![
                    Expr::Str("a {} \\'b\\'".to_owned()),
                    Expr::Path("$.x".to_owned()),
                    Expr::Path("$$.Map.Item.Value".to_owned()),
                    Expr::Path("$var".to_owned()),
                    Expr::Number(Number::from(1)),
                    Expr::Number(Number::from_f64(-2.5).expect("finite")),
                    Expr::Bool(true),
                    Expr::Bool(false),
                    Expr::Null,
                    call("States.UUID", vec![]),
                ]
            )
        );
    }

    #[test]
    fn path_arguments_may_contain_commas_and_parens_in_brackets() {
        let parsed = parse("States.Array($.a[?(@.b == 1)], $['x,y'])").expect("parses");
        assert_eq!(
            parsed,
            call(
                "States.Array",
                vec![
                    Expr::Path("$.a[?(@.b == 1)]".to_owned()),
                    Expr::Path("$['x,y']".to_owned())
                ]
            )
        );
    }

    #[test]
    fn unescape_handles_the_four_documented_escapes() {
        assert_eq!(unescape(r"it\'s \{x\} a\\b \n"), r"it's {x} a\b \n");
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "States.Format(",
            "States.Format('a'",
            "States.Format('a',)",
            "States.Format('a' 'b')",
            "States.Format('unterminated)",
            "States.Array() trailing",
            "'just a string'",
            "States.Array(1e999)",
            "States.Array(#)",
            r#"States.StringToJson('{\"a\": 1}')"#,
            r"States.Array('\n')",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let expr = format!("{}1{}", "States.Array(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&expr).is_err());
    }
}
