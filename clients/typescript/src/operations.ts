// Every operation the client runs. GraphQL Code Generator reads these documents, validates
// them against schema.graphql and types them (src/gql/); the server runs exactly these, by id,
// when it trusts src/gql/persisted-documents.json.
import { graphql } from "./gql/index.js";

export const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      ...Session
    }
  }
`);

export const SignIn = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) {
      ...Session
    }
  }
`);

export const RefreshSession = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      ...Session
    }
  }
`);

export const SignOut = graphql(`
  mutation SignOut($refreshToken: String!) {
    signOut(refreshToken: $refreshToken)
  }
`);

export const SessionFields = graphql(`
  fragment Session on AuthPayload {
    accessToken
    refreshToken
    expiresIn
    user {
      id
      email
      name
    }
  }
`);

export const TodoFields = graphql(`
  fragment TodoFields on Todo {
    id
    title
    description
    completed
    createdAt
    updatedAt
  }
`);

export const Me = graphql(`
  query Me {
    me {
      id
      email
      name
    }
  }
`);

export const Todos = graphql(`
  query Todos($first: Int, $after: String, $last: Int, $before: String, $filter: TodoFilter, $orderBy: TodoOrder) {
    todos(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      nodes {
        ...TodoFields
      }
    }
  }
`);

export const TodoById = graphql(`
  query TodoById($id: ID!) {
    todo(id: $id) {
      ...TodoFields
    }
  }
`);

export const CreateTodo = graphql(`
  mutation CreateTodo($input: CreateTodoInput!) {
    createTodo(input: $input) {
      ...TodoFields
    }
  }
`);

export const UpdateTodo = graphql(`
  mutation UpdateTodo($id: ID!, $input: UpdateTodoInput!) {
    updateTodo(id: $id, input: $input) {
      ...TodoFields
    }
  }
`);

export const ToggleTodo = graphql(`
  mutation ToggleTodo($id: ID!) {
    toggleTodo(id: $id) {
      ...TodoFields
    }
  }
`);

export const DeleteTodo = graphql(`
  mutation DeleteTodo($id: ID!) {
    deleteTodo(id: $id)
  }
`);

export const TodoEvents = graphql(`
  subscription TodoEvents {
    todoEvents {
      kind
      todoId
      todo {
        ...TodoFields
      }
    }
  }
`);
