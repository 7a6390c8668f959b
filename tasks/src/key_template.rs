//! The key template language: how a record's attributes become an S3 object key, and how a key
//! becomes CDN paths.
//!
//! Syntax (`PURGE_KEY_TEMPLATE`, and each of `PURGE_PATH_TEMPLATES`):
//! - literal text is copied as is; `{{` and `}}` stand for a literal `{` and `}`;
//! - `{attr}` inserts the attribute `attr`, which must be of type S or N (an N is inserted exactly
//!   as DynamoDB stores it, e.g. `42` or `1.5`);
//! - `{attr|subtype}` inserts the subtype of a media type: `image/jpeg` → `jpeg`,
//!   `image/svg+xml; charset=utf-8` → `svg+xml` (the classic photo handler's
//!   `photo_id + '.' + subtype`);
//! - `{attr|lower}` lowercases; filters chain left to right: `{type|subtype|lower}`.
//!
//! Examples: `{photo_id}.{type|subtype}`, `{image_key}`, `photos/{user_id}/{photo_id}.jpg`.
//! Path templates use the same syntax with the single placeholder `{key}` (the object key).

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use thiserror::Error;

use crate::contract::AttributeMap;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field { name: String, filters: Vec<Filter> },
}

/// A transformation applied to an inserted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `image/jpeg` → `jpeg`.
    Subtype,
    /// Unicode lowercase.
    Lower,
}

impl Filter {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "subtype" => Some(Filter::Subtype),
            "lower" => Some(Filter::Lower),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Filter::Subtype => "subtype",
            Filter::Lower => "lower",
        }
    }
}

/// A template that does not parse. Positions are byte offsets into the template.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateSyntaxError {
    #[error("`{{` at byte {at} is never closed; write `{{{{` for a literal brace")]
    UnclosedBrace { at: usize },
    #[error("`}}` at byte {at} has no opening `{{`; write `}}}}` for a literal brace")]
    UnmatchedClose { at: usize },
    #[error("empty placeholder at byte {at}; expected `{{attribute}}`")]
    EmptyName { at: usize },
    #[error("`{{` inside the placeholder at byte {at}; placeholders do not nest")]
    NestedBrace { at: usize },
    #[error("unknown filter `{filter}` at byte {at}; expected `subtype` or `lower`")]
    UnknownFilter { filter: String, at: usize },
}

/// Why a template could not be rendered for one record. Each maps to a rejection reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RenderError {
    #[error("attribute `{name}` is missing")]
    MissingAttribute { name: String },
    #[error("attribute `{name}` is of type {found}, expected S or N")]
    WrongAttributeType { name: String, found: String },
    #[error(
        "attribute `{name}` = {value:?} is not a media type (type/subtype), which `|subtype` needs"
    )]
    NotAMediaType { name: String, value: String },
    #[error("attribute `{name}` is malformed DynamoDB JSON: {detail}")]
    MalformedAttribute { name: String, detail: String },
}

impl Template {
    /// Parses a template. Never panics, whatever the input.
    pub fn parse(source: &str) -> Result<Self, TemplateSyntaxError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateSyntaxError::UnmatchedClose { at }),
                '{' => {
                    let mut body = String::new();
                    let mut closed = false;
                    for (inner_at, inner) in chars.by_ref() {
                        match inner {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '{' => return Err(TemplateSyntaxError::NestedBrace { at: inner_at }),
                            other => body.push(other),
                        }
                    }
                    if !closed {
                        return Err(TemplateSyntaxError::UnclosedBrace { at });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_field(&body, at)?);
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The distinct names the template inserts, in order of first use.
    pub fn fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Field { name, .. } = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Renders with values supplied by `lookup` (already S or N strings).
    pub fn render_with<'a, F>(&self, mut lookup: F) -> Result<String, RenderError>
    where
        F: FnMut(&str) -> Result<Cow<'a, str>, RenderError>,
    {
        // Sized for the usual key, a little longer than its template, so it is written into
        // one allocation.
        let mut out = String::with_capacity(self.source.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field { name, filters } => {
                    let mut value = lookup(name)?;
                    for filter in filters {
                        value = apply(*filter, name, value)?;
                    }
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    /// Renders against a DynamoDB JSON item (an old image).
    pub fn render_item(&self, item: &AttributeMap) -> Result<String, RenderError> {
        self.render_with(|name| scalar_attribute(item, name).map(Cow::Borrowed))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn parse_field(body: &str, at: usize) -> Result<Part, TemplateSyntaxError> {
    let mut pieces = body.split('|');
    let name = pieces.next().unwrap_or_default();
    if name.is_empty() {
        return Err(TemplateSyntaxError::EmptyName { at });
    }
    let filters = pieces
        .map(|filter| {
            Filter::parse(filter).ok_or_else(|| TemplateSyntaxError::UnknownFilter {
                filter: filter.to_owned(),
                at,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Part::Field {
        name: name.to_owned(),
        filters,
    })
}

fn apply<'a>(filter: Filter, name: &str, value: Cow<'a, str>) -> Result<Cow<'a, str>, RenderError> {
    match filter {
        Filter::Lower => Ok(Cow::Owned(value.to_lowercase())),
        Filter::Subtype => {
            // Media type parameters (`; charset=utf-8`) are not part of the subtype.
            let essence = value.split(';').next().unwrap_or_default().trim();
            match essence.split_once('/') {
                Some((kind, subtype))
                    if !kind.is_empty() && !subtype.is_empty() && !subtype.contains('/') =>
                {
                    Ok(Cow::Owned(subtype.to_owned()))
                }
                _ => Err(RenderError::NotAMediaType {
                    name: format!("{name}|{}", filter.name()),
                    value: value.into_owned(),
                }),
            }
        }
    }
}

/// The DynamoDB type descriptors that are valid but not usable in a key.
const NON_SCALAR_TYPES: [&str; 8] = ["B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

/// Reads an S or N attribute from DynamoDB JSON, naming what is wrong otherwise.
pub fn scalar_attribute<'a>(item: &'a AttributeMap, name: &str) -> Result<&'a str, RenderError> {
    let value = item
        .get(name)
        .ok_or_else(|| RenderError::MissingAttribute {
            name: name.to_owned(),
        })?;
    let malformed = |detail: String| RenderError::MalformedAttribute {
        name: name.to_owned(),
        detail,
    };
    let object = value.as_object().ok_or_else(|| {
        malformed(format!(
            "expected an object like {{\"S\": ...}}, found {value}"
        ))
    })?;
    let mut entries = object.iter();
    let (Some((kind, inner)), None) = (entries.next(), entries.next()) else {
        return Err(malformed(format!(
            "expected exactly one type descriptor, found {}",
            object.len()
        )));
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => Ok(s),
        ("N", Value::String(n)) if is_dynamodb_number(n) => Ok(n),
        ("N", Value::String(n)) => Err(malformed(format!("N value {n:?} is not a number"))),
        ("S" | "N", other) => Err(malformed(format!(
            "{kind} value must be a string, found {other}"
        ))),
        (other, _) if NON_SCALAR_TYPES.contains(&other) => Err(RenderError::WrongAttributeType {
            name: name.to_owned(),
            found: other.to_owned(),
        }),
        (other, _) => Err(malformed(format!("unknown type descriptor {other:?}"))),
    }
}

/// DynamoDB's number syntax: an optional sign, digits with an optional fraction, an optional
/// exponent. (DynamoDB itself normalises numbers, so a stream image always carries this form.)
fn is_dynamodb_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = (!int.is_empty() || !frac.is_empty()) && digits(int) && digits(frac);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> AttributeMap {
        value.as_object().expect("test items are objects").clone()
    }

    fn render(template: &str, value: Value) -> Result<String, RenderError> {
        Template::parse(template)
            .expect("template parses")
            .render_item(&item(value))
    }

    #[test]
    fn photo_template_uses_the_media_subtype() {
        let key = render(
            "{photo_id}.{type|subtype}",
            json!({"photo_id": {"S": "p-42"}, "type": {"S": "image/jpeg"}}),
        );
        assert_eq!(key.as_deref(), Ok("p-42.jpeg"));
    }

    #[test]
    fn subtype_drops_parameters_and_keeps_suffixes() {
        let key = render(
            "{t|subtype}",
            json!({"t": {"S": "image/svg+xml; charset=utf-8"}}),
        );
        assert_eq!(key.as_deref(), Ok("svg+xml"));
    }

    #[test]
    fn subtype_of_a_value_without_slash_is_named() {
        let err = render("{t|subtype}", json!({"t": {"S": "jpeg"}})).expect_err("not a media type");
        assert!(matches!(err, RenderError::NotAMediaType { ref value, .. } if value == "jpeg"));
        for bad in ["/jpeg", "image/", "a/b/c", ""] {
            assert!(
                render("{t|subtype}", json!({"t": {"S": bad}})).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn image_key_template_copies_the_attribute() {
        let key = render(
            "{image_key}",
            json!({"image_key": {"S": "images/banana.jpg"}}),
        );
        assert_eq!(key.as_deref(), Ok("images/banana.jpg"));
    }

    #[test]
    fn lower_and_chained_filters() {
        let v = json!({"t": {"S": "IMAGE/PNG"}, "n": {"S": "MiXeD"}});
        assert_eq!(render("{n|lower}", v.clone()).as_deref(), Ok("mixed"));
        assert_eq!(render("{t|subtype|lower}", v).as_deref(), Ok("png"));
    }

    #[test]
    fn numbers_are_inserted_as_stored() {
        let v = json!({"id": {"N": "1234"}, "v": {"N": "-1.5e3"}});
        assert_eq!(render("{id}/{v}", v).as_deref(), Ok("1234/-1.5e3"));
    }

    #[test]
    fn escaped_braces_are_literal() {
        let key = render("{{x}}-{id}-}}", json!({"id": {"S": "a"}}));
        assert_eq!(key.as_deref(), Ok("{x}-a-}"));
    }

    #[test]
    fn missing_attribute_is_named() {
        let err = render("{photo_id}.{type|subtype}", json!({"photo_id": {"S": "p"}}));
        assert_eq!(
            err,
            Err(RenderError::MissingAttribute {
                name: "type".into()
            })
        );
    }

    #[test]
    fn every_non_scalar_type_is_a_wrong_attribute_type() {
        let samples = [
            json!({"B": "AAEC"}),
            json!({"BOOL": true}),
            json!({"NULL": true}),
            json!({"M": {}}),
            json!({"L": []}),
            json!({"SS": ["a"]}),
            json!({"NS": ["1"]}),
            json!({"BS": ["AA=="]}),
        ];
        for sample in samples {
            let kind = sample
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .expect("key");
            let err = render("{a}", json!({ "a": sample })).expect_err("not S or N");
            assert_eq!(
                err,
                RenderError::WrongAttributeType {
                    name: "a".into(),
                    found: kind
                }
            );
        }
    }

    #[test]
    fn malformed_dynamodb_json_is_named_not_panicked() {
        let samples = [
            json!("plain string"),
            json!({}),
            json!({"S": "a", "N": "1"}),
            json!({"S": 5}),
            json!({"N": 5}),
            json!({"N": "five"}),
            json!({"X": "?"}),
            json!(null),
        ];
        for sample in samples {
            let err = render("{a}", json!({ "a": sample.clone() })).expect_err("malformed");
            assert!(
                matches!(err, RenderError::MalformedAttribute { .. }),
                "{sample}: {err:?}"
            );
        }
    }

    #[test]
    fn number_syntax() {
        for ok in [
            "0", "42", "-1", "+3", "1.5", ".5", "5.", "1e10", "1E-3", "-2.5e+7",
        ] {
            assert!(is_dynamodb_number(ok), "{ok}");
        }
        for bad in ["", "-", ".", "1e", "e5", "1.2.3", "0x10", "NaN", "1 2"] {
            assert!(!is_dynamodb_number(bad), "{bad}");
        }
    }

    #[test]
    fn syntax_errors_are_named_with_positions() {
        assert_eq!(
            Template::parse("a{b"),
            Err(TemplateSyntaxError::UnclosedBrace { at: 1 })
        );
        assert_eq!(
            Template::parse("a}b"),
            Err(TemplateSyntaxError::UnmatchedClose { at: 1 })
        );
        assert_eq!(
            Template::parse("{}"),
            Err(TemplateSyntaxError::EmptyName { at: 0 })
        );
        assert_eq!(
            Template::parse("{|lower}"),
            Err(TemplateSyntaxError::EmptyName { at: 0 })
        );
        assert_eq!(
            Template::parse("{a{b}}"),
            Err(TemplateSyntaxError::NestedBrace { at: 2 })
        );
        assert_eq!(
            Template::parse("x{a|upper}"),
            Err(TemplateSyntaxError::UnknownFilter {
                filter: "upper".into(),
                at: 1
            })
        );
        assert!(Template::parse("{a|}").is_err());
    }

    #[test]
    fn fields_are_distinct_in_order() {
        let t = Template::parse("{b}/{a}/{b|lower}.x").expect("parses");
        assert_eq!(t.fields(), vec!["b", "a"]);
        assert_eq!(
            Template::parse("static").expect("parses").fields(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn path_templates_render_the_key() {
        let t = Template::parse("/thumbs/{key}").expect("parses");
        let rendered = t.render_with(|name| {
            assert_eq!(name, "key");
            Ok(Cow::Borrowed("a/b.jpg"))
        });
        assert_eq!(rendered.as_deref(), Ok("/thumbs/a/b.jpg"));
    }

    #[test]
    fn arbitrary_input_never_panics() {
        for source in [
            "",
            "{",
            "}",
            "{{",
            "}}",
            "{|}",
            "{a|b|c}",
            "é{ü|lower}",
            "{\u{0}}",
            "{{{a}}}",
        ] {
            let _ = Template::parse(source).map(|t| t.render_item(&AttributeMap::new()));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any template source parses or fails by name, and a parsed template renders or fails
        /// by name against any item.
        #[test]
        fn parse_and_render_never_panic(source in "[{}|a-z. /]{0,24}", value in "\\PC{0,12}") {
            if let Ok(template) = Template::parse(&source) {
                let mut item = AttributeMap::new();
                for field in template.fields() {
                    item.insert(field.to_owned(), serde_json::json!({ "S": value }));
                }
                let _ = template.render_item(&item);
            }
        }

        /// Escaped braces round-trip: a template of literal text and `{{`/`}}` renders to the
        /// text with the braces unescaped.
        #[test]
        fn literal_text_renders_as_is(text in "[a-z{}./ -]{0,24}") {
            let source = text.replace('{', "{{").replace('}', "}}");
            let template = Template::parse(&source).expect("escaped text parses");
            prop_assert!(template.fields().is_empty());
            prop_assert_eq!(template.render_item(&AttributeMap::new()), Ok(text));
        }
    }
}
