//! The names of Choice operators, decoded once into a small enum.

use std::cmp::Ordering;

use serde_json::Value;

/// What kind of values a comparison operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// The relation a comparison operator tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// A comparison operator such as `NumericLessThanEqualsPath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Comparison {
    pub kind: Kind,
    pub relation: Relation,
    /// The `...Path` variant: the operand is a path to the value to compare with.
    pub path: bool,
}

impl Comparison {
    /// True when `ordering` (value compared with operand) satisfies the relation.
    pub fn accepts(self, ordering: Ordering) -> bool {
        match self.relation {
            Relation::Equals => ordering == Ordering::Equal,
            Relation::LessThan => ordering == Ordering::Less,
            Relation::GreaterThan => ordering == Ordering::Greater,
            Relation::LessThanEquals => ordering != Ordering::Greater,
            Relation::GreaterThanEquals => ordering != Ordering::Less,
        }
    }

    /// The operator's name as written in a definition.
    pub fn name(self) -> String {
        let kind = match self.kind {
            Kind::String => "String",
            Kind::Numeric => "Numeric",
            Kind::Boolean => "Boolean",
            Kind::Timestamp => "Timestamp",
        };
        let relation = match self.relation {
            Relation::Equals => "Equals",
            Relation::LessThan => "LessThan",
            Relation::GreaterThan => "GreaterThan",
            Relation::LessThanEquals => "LessThanEquals",
            Relation::GreaterThanEquals => "GreaterThanEquals",
        };
        format!("{kind}{relation}{}", if self.path { "Path" } else { "" })
    }
}

/// A type test: `IsPresent`, `IsNull`, `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`
/// (variants drop the `Is`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TypeTest {
    Present,
    Null,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

impl TypeTest {
    pub fn name(self) -> &'static str {
        match self {
            TypeTest::Present => "IsPresent",
            TypeTest::Null => "IsNull",
            TypeTest::Numeric => "IsNumeric",
            TypeTest::String => "IsString",
            TypeTest::Boolean => "IsBoolean",
            TypeTest::Timestamp => "IsTimestamp",
        }
    }

    /// Whether a present value passes the test (IsPresent is decided before the value exists).
    pub fn holds(self, value: &Value) -> bool {
        match self {
            TypeTest::Present => true,
            TypeTest::Null => value.is_null(),
            TypeTest::Numeric => value.is_number(),
            TypeTest::String => value.is_string(),
            TypeTest::Boolean => value.is_boolean(),
            TypeTest::Timestamp => value.as_str().and_then(super::parse_timestamp).is_some(),
        }
    }
}

/// Any operator a rule can hold besides And/Or/Not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    Compare(Comparison),
    StringMatches,
    Type(TypeTest),
}

impl Operator {
    /// Decodes an operator name; `None` for anything else (Variable, Next, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        let test = match name {
            "StringMatches" => return Some(Operator::StringMatches),
            "IsPresent" => Some(TypeTest::Present),
            "IsNull" => Some(TypeTest::Null),
            "IsNumeric" => Some(TypeTest::Numeric),
            "IsString" => Some(TypeTest::String),
            "IsBoolean" => Some(TypeTest::Boolean),
            "IsTimestamp" => Some(TypeTest::Timestamp),
            _ => None,
        };
        if let Some(test) = test {
            return Some(Operator::Type(test));
        }
        let (base, path) = match name.strip_suffix("Path") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let (kind, relation) = [
            ("String", Kind::String),
            ("Numeric", Kind::Numeric),
            ("Boolean", Kind::Boolean),
            ("Timestamp", Kind::Timestamp),
        ]
        .into_iter()
        .find_map(|(prefix, kind)| base.strip_prefix(prefix).map(|rest| (kind, rest)))?;
        let relation = match relation {
            "Equals" => Relation::Equals,
            "LessThan" => Relation::LessThan,
            "GreaterThan" => Relation::GreaterThan,
            "LessThanEquals" => Relation::LessThanEquals,
            "GreaterThanEquals" => Relation::GreaterThanEquals,
            _ => return None,
        };
        // Booleans only have BooleanEquals(Path).
        if kind == Kind::Boolean && relation != Relation::Equals {
            return None;
        }
        Some(Operator::Compare(Comparison {
            kind,
            relation,
            path,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_operator_and_round_trips_names() {
        let mut count = 0;
        for kind in ["String", "Numeric", "Timestamp"] {
            for relation in [
                "Equals",
                "LessThan",
                "GreaterThan",
                "LessThanEquals",
                "GreaterThanEquals",
            ] {
                for suffix in ["", "Path"] {
                    let name = format!("{kind}{relation}{suffix}");
                    match Operator::from_name(&name) {
                        Some(Operator::Compare(c)) => assert_eq!(c.name(), name),
                        other => panic!("{name} decoded as {other:?}"),
                    }
                    count += 1;
                }
            }
        }
        assert_eq!(count, 30);
        assert!(matches!(
            Operator::from_name("BooleanEquals"),
            Some(Operator::Compare(_))
        ));
        assert!(matches!(
            Operator::from_name("BooleanEqualsPath"),
            Some(Operator::Compare(Comparison { path: true, .. }))
        ));
        assert_eq!(Operator::from_name("BooleanLessThan"), None);
        assert_eq!(
            Operator::from_name("StringMatches"),
            Some(Operator::StringMatches)
        );
        assert_eq!(Operator::from_name("StringMatchesPath"), None);
        assert_eq!(
            Operator::from_name("IsTimestamp"),
            Some(Operator::Type(TypeTest::Timestamp))
        );
        assert_eq!(Operator::from_name("Variable"), None);
        assert_eq!(Operator::from_name("Path"), None);
    }

    #[test]
    fn relations_accept_the_right_orderings() {
        let c = |relation| Comparison {
            kind: Kind::Numeric,
            relation,
            path: false,
        };
        assert!(c(Relation::LessThanEquals).accepts(Ordering::Equal));
        assert!(!c(Relation::LessThan).accepts(Ordering::Equal));
        assert!(c(Relation::GreaterThanEquals).accepts(Ordering::Greater));
        assert!(!c(Relation::GreaterThan).accepts(Ordering::Less));
    }
}
