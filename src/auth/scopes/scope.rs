//! The scopes, sets of them, and what a credential grants.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// One permission a token may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read the caller's todos (`todo`, `todos`, `User.todos`, `todoEvents`, REST `GET`).
    TodosRead,
    /// Create, change and delete the caller's todos (the todo mutations, REST writes).
    TodosWrite,
    /// Read the caller's profile (`me`, and the fields of `User` other than `todos`).
    ProfileRead,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 3] = [Scope::TodosRead, Scope::TodosWrite, Scope::ProfileRead];

    /// The scope's name, as tokens, the schema and `WWW-Authenticate` spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TodosRead => "todos:read",
            Self::TodosWrite => "todos:write",
            Self::ProfileRead => "profile:read",
        }
    }

    /// The scope named `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.name() == name)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A scope: `todos:read`, `todos:write` or `profile:read`.
#[Scalar(name = "Scope")]
impl ScalarType for Scope {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(name) => Scope::named(name).ok_or_else(|| {
                InputValueError::custom(format!(
                    "unknown scope {name:?}; the scopes are todos:read, todos:write and profile:read"
                ))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.name().to_owned())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// No scope at all.
    pub const NONE: Scopes = Scopes(0);
    /// Every scope: what a session (signIn, signUp, refreshSession) holds.
    pub const ALL: Scopes = Scopes(0b111);

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether every scope of `other` is in the set.
    pub const fn covers(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set with `scope` added.
    #[must_use]
    pub const fn with(self, scope: Scope) -> Scopes {
        Scopes(self.0 | scope.bit())
    }

    /// The scopes of the set, in [`Scope::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.contains(*scope))
    }

    /// The known scopes of an OAuth `scope` value (space-separated); other names are ignored,
    /// since an issuer's tokens may carry scopes of its own (`openid`, `email`).
    pub fn from_claim(claim: &str) -> Scopes {
        claim.split_ascii_whitespace().filter_map(Scope::named).fold(Scopes::NONE, Scopes::with)
    }

    /// The set as an OAuth `scope` value: names separated by spaces.
    pub fn to_claim(self) -> String {
        self.iter().map(Scope::name).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        scopes.into_iter().fold(Scopes::NONE, Scopes::with)
    }
}

/// What a credential grants its bearer, beside who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The scopes it holds.
    pub scopes: Scopes,
    /// Whether it is a session (a token from signIn, signUp or refreshSession, or the external
    /// issuer's) rather than a personal access token.
    pub session: bool,
}

impl Access {
    /// A session with every scope.
    pub const FULL: Access = Access { scopes: Scopes::ALL, session: true };

    /// A session limited by a `scope` claim, when the token has one; every scope without.
    pub fn session(claim: Option<&str>) -> Access {
        Access { scopes: claim.map_or(Scopes::ALL, Scopes::from_claim), session: true }
    }

    /// A personal access token's.
    pub fn personal(scopes: Scopes) -> Access {
        Access { scopes, session: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_keeps_the_known_scopes_and_ignores_the_rest() {
        let scopes = Scopes::from_claim("openid todos:read  profile:read email todos:reads");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), [Scope::TodosRead, Scope::ProfileRead]);
        assert_eq!(scopes.to_claim(), "todos:read profile:read");
        assert_eq!(Scopes::from_claim(""), Scopes::NONE);
        assert_eq!(Scopes::from_claim(&Scopes::ALL.to_claim()), Scopes::ALL);
    }

    #[test]
    fn a_session_without_a_scope_claim_holds_every_scope() {
        assert_eq!(Access::session(None), Access::FULL);
        assert_eq!(Access::session(Some("todos:read")).scopes, Scopes::NONE.with(Scope::TodosRead));
        assert!(!Access::personal(Scopes::ALL).session);
    }
}
