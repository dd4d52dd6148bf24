//! A field's requirement and the `@requiresScopes` directive that shows it in the SDL, in the
//! form of Apollo Federation's: `@requiresScopes(scopes: [["todos:read"], ["todos:write"]])`.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::registry::{
    __DirectiveLocation, MetaDirective, MetaDirectiveInvocation, MetaInputValue, Registry, location_traits,
};
use async_graphql::{InputType, TypeDirective, Value};

use super::scope::{Scope, Scopes};

/// What a field requires: alternatives (the outer list), each a list of scopes that must all
/// be held. `[[]]` needs no scope (the sign-in fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement(pub &'static [&'static [Scope]]);

impl Requirement {
    /// Whether `held` satisfies one of the alternatives.
    pub fn allows(self, held: Scopes) -> bool {
        self.0.iter().any(|all| all.iter().all(|scope| held.contains(*scope)))
    }

    /// Whether the field needs no scope.
    pub fn is_public(self) -> bool {
        self.0.iter().any(|all| all.is_empty())
    }

    /// The alternatives as GraphQL values: what `@requiresScopes` prints and
    /// `extensions.requiredScopes` carries.
    pub fn to_value(self) -> Value {
        let all = |scopes: &[Scope]| Value::List(scopes.iter().map(|s| Value::String(s.name().to_owned())).collect());
        Value::List(self.0.iter().map(|scopes| all(scopes)).collect())
    }

    /// The first alternative's scopes: what a refusal's `WWW-Authenticate` names.
    pub fn first(self) -> Scopes {
        self.0.first().map_or(Scopes::NONE, |all| all.iter().copied().collect())
    }
}

/// A requirement in words: `todos:read, or todos:write and profile:read`.
pub fn describe(requirement: Requirement) -> String {
    let all = |scopes: &[Scope]| scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(" and ");
    requirement.0.iter().map(|scopes| all(scopes)).collect::<Vec<_>>().join(", or ")
}

/// `@requiresScopes`, as a type-system directive async-graphql prints on field definitions.
pub struct RequiresScopes;

impl RequiresScopes {
    /// The directive's name in the SDL.
    pub const NAME: &'static str = "requiresScopes";

    /// The directive applied with `requirement`: what `#[scopes(…)]` puts on a field.
    pub fn apply(requirement: Requirement) -> MetaDirectiveInvocation {
        let mut args = IndexMap::new();
        args.insert("scopes".to_owned(), requirement.to_value());
        MetaDirectiveInvocation { name: Self::NAME.to_owned(), args }
    }
}

impl TypeDirective for RequiresScopes {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(Self::NAME)
    }

    fn register(&self, registry: &mut Registry) {
        let scopes = MetaInputValue {
            name: "scopes".to_owned(),
            description: Some("Alternatives, each a list of scopes that must all be held.".to_owned()),
            ty: <Vec<Vec<Scope>> as InputType>::create_type_info(registry),
            deprecation: Default::default(),
            default_value: None,
            visible: None,
            inaccessible: false,
            tags: Vec::new(),
            is_secret: false,
            directive_invocations: Vec::new(),
        };
        registry.add_directive(MetaDirective {
            name: Self::NAME.to_owned(),
            description: Some(
                "The scopes a token must hold to use this field: one of the alternatives (the outer \
                 list), each a list of scopes that must all be held. `[[]]`: no scope is needed. A \
                 field refused for scope answers FORBIDDEN with `extensions.requiredScopes`."
                    .to_owned(),
            ),
            locations: vec![__DirectiveLocation::FIELD_DEFINITION],
            args: IndexMap::from([("scopes".to_owned(), scopes)]),
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }
}

impl location_traits::Directive_At_FIELD_DEFINITION for RequiresScopes {}

#[cfg(test)]
mod tests {
    use super::*;

    const EITHER: Requirement = Requirement(&[&[Scope::TodosRead], &[Scope::TodosWrite, Scope::ProfileRead]]);

    #[test]
    fn one_alternative_held_whole_is_enough() {
        assert!(EITHER.allows(Scopes::NONE.with(Scope::TodosRead)));
        assert!(EITHER.allows(Scopes::NONE.with(Scope::TodosWrite).with(Scope::ProfileRead)));
        assert!(!EITHER.allows(Scopes::NONE.with(Scope::TodosWrite)));
        assert!(!EITHER.allows(Scopes::NONE));
        assert!(Requirement(&[&[]]).allows(Scopes::NONE));
    }

    #[test]
    fn the_directive_prints_the_alternatives() {
        let printed = RequiresScopes::apply(EITHER).sdl();
        assert_eq!(printed, r#"@requiresScopes(scopes: [["todos:read"], ["todos:write", "profile:read"]])"#);
    }
}
