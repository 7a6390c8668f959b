//! StringMatches: `*` matches any run of characters (including none); `\*` is a literal star
//! and `\\` a literal backslash. No other character is special.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '\\')) => {
                    out.push(Token::Char(next));
                    chars.next();
                }
                _ => out.push(Token::Char('\\')),
            },
            '*' => out.push(Token::Star),
            c => out.push(Token::Char(c)),
        }
    }
    out
}

/// True when `text` matches `pattern`. Linear-time greedy matching with backtracking to the
/// last star only, so a hostile pattern cannot blow up.
pub(super) fn matches(pattern: &str, text: &str) -> bool {
    let pattern = tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Star) => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    last_star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("log-*.txt", "log-2024-01.txt"));
        assert!(matches("*.log", "a.log"));
        assert!(!matches("*.log", "a.log.gz"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn escapes() {
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "aXb"));
        assert!(matches(r"a\\*", r"a\anything"));
        assert!(matches(r"a\b", r"a\b"));
    }

    #[test]
    fn hostile_patterns_finish() {
        let text = "a".repeat(10_000);
        assert!(!matches(
            &"*a".repeat(500).to_string().replace("a", "a*b"),
            &text
        ));
    }
}
