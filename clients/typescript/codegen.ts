// GraphQL Code Generator: typed documents for every operation in src/, checked against the
// server's schema.graphql, and the persisted-documents manifest the server loads with
// TRUSTED_DOCUMENTS (see the README's "Frontend clients").
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Writes src/gql/persisted-documents.json ({"sha256:<hex>": "query …"}) and puts each
        // document's id in document.__meta__.hash.
        persistedDocuments: { hashAlgorithm: "sha256" },
        fragmentMasking: false,
      },
      config: {
        importExtension: ".js",
        useTypeImports: true,
        enumsAsTypes: true,
        // Scope: one of the server's scope names ("todos:read", …), as in @requiresScopes.
        scalars: { DateTime: "string", Scope: "string" },
        strictScalars: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
  ignoreNoDocuments: false,
};

export default config;
