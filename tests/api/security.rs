//! Cross-user isolation through nested fields.
