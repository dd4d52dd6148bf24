// The example operations the playground opens with, one tab each (GraphiQL names a tab after
// its first operation). Edit freely, then rebuild the assets: cd playground && npm run build.
// GraphiQL shows these only until the user has tabs of their own saved in this browser.

window.todoqlExamples = {
  tabs: [
    {
      query: `# Welcome to the todoql playground.
#
# 1. Sign up or sign in with the bar above: every request
#    then carries your access token, renewed when it expires.
# 2. Run an operation with Ctrl-Enter or the ▶ button.
# 3. The tabs above hold more examples. The Docs pane lists
#    every type and field; Ctrl-Space completes as you type.
#
# Your todos, newest first, 10 at a time. For the next page,
# copy pageInfo.endCursor into "after" below and run again.
query Todos($first: Int = 10, $after: String, $filter: TodoFilter) {
  me {
    email
    name
  }
  todos(first: $first, after: $after, filter: $filter, orderBy: { field: CREATED_AT, direction: DESC }) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    nodes {
      id
      title
      description
      completed
      createdAt
    }
  }
}
`,
      variables: `{
  "first": 10,
  "after": null,
  "filter": { "completed": null, "search": null }
}
`,
    },
    {
      query: `# Create a todo: edit the variables below, then run.
mutation CreateTodo($input: CreateTodoInput!) {
  createTodo(input: $input) {
    id
    title
    description
    completed
    createdAt
  }
}
`,
      variables: `{
  "input": {
    "title": "Try the todoql playground",
    "description": "Created from GraphiQL"
  }
}
`,
    },
    {
      query: `# Change a todo: paste the id of one of yours (see the Todos
# tab) into the variables below, then pick the operation to
# run from the ▶ button's menu.
mutation ToggleTodo($id: ID!) {
  toggleTodo(id: $id) {
    id
    title
    completed
    updatedAt
  }
}

mutation UpdateTodo($id: ID!, $input: UpdateTodoInput!) {
  updateTodo(id: $id, input: $input) {
    id
    title
    description
    completed
    updatedAt
  }
}

mutation DeleteTodo($id: ID!) {
  deleteTodo(id: $id)
}
`,
      variables: `{
  "id": "paste a todo id here",
  "input": { "title": "A better title", "completed": true }
}
`,
    },
    {
      query: `# Live events for your todos, over the WebSocket at
# /graphql/ws with your access token. Run it, then create,
# change or delete a todo from another tab or window and
# watch the events arrive here. The ■ button stops it.
subscription TodoEvents {
  todoEvents {
    kind
    todoId
    todo {
      id
      title
      completed
      updatedAt
    }
  }
}
`,
    },
    {
      query: `# The sign-in bar runs these for you; here you can see what
# they return. A signUp, signIn or refreshSession run from
# here signs the playground in as well.
mutation SignUp($signUp: SignUpInput!) {
  signUp(input: $signUp) {
    ...Session
  }
}

mutation SignIn($signIn: SignInInput!) {
  signIn(input: $signIn) {
    ...Session
  }
}

mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    ...Session
  }
}

mutation SignOut($refreshToken: String!) {
  signOut(refreshToken: $refreshToken)
}

fragment Session on AuthPayload {
  accessToken
  refreshToken
  tokenType
  expiresIn
  user {
    id
    email
    name
    createdAt
  }
}
`,
      variables: `{
  "signUp": { "email": "ada@example.com", "password": "", "name": "Ada Lovelace" },
  "signIn": { "email": "ada@example.com", "password": "" },
  "refreshToken": ""
}
`,
    },
  ],

  /** What a new tab (the + button) starts with. */
  newTab: `# Write an operation here; Ctrl-Space completes as you type.
{
  me {
    email
  }
}
`,
};
