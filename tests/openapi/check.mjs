// Checks todoql's OpenAPI document, and real answers of the server against it.
//
//   node check.mjs DOCUMENT.json [ANSWERS.json]
//
// 1. DOCUMENT must be valid against the official JSON schema of its OpenAPI version
//    (@seriousme/openapi-schema-validator, which holds the schemas the OpenAPI Initiative
//    publishes for 2.0, 3.0, 3.1 and 3.2), and be OpenAPI 3.1.
// 2. ANSWERS, when given, is a list of {method, route, status, headers, body} recorded from the
//    running server (route: the path template, e.g. /api/{user_id}/tasks). Each must be a
//    documented response of its operation, carry the headers that response documents, and
//    its body must validate against the response's schema (JSON Schema 2020-12, Ajv). And
//    every documented response must have been answered at least once: the document promises
//    nothing the server was not seen to do.
//
// Prints one line per problem, then "N passed, M failed"; exits non-zero on any failure.

import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [documentPath, answersPath] = process.argv.slice(2);
if (!documentPath) {
  console.error("usage: node check.mjs DOCUMENT.json [ANSWERS.json]");
  process.exit(2);
}
const document = JSON.parse(readFileSync(documentPath, "utf8"));
let passed = 0;
const failures = [];
const check = (ok, message) => (ok ? passed++ : failures.push(message));

const validator = new Validator();
const result = await validator.validate(structuredClone(document));
check(result.valid, `the document is not valid OpenAPI: ${JSON.stringify(result.errors, null, 2)}`);
check(validator.version === "3.1", `the document is OpenAPI ${validator.version}, not 3.1`);

if (answersPath && result.valid) {
  const answers = JSON.parse(readFileSync(answersPath, "utf8"));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat("int64", { type: "number", validate: Number.isInteger });
  ajv.addSchema(document, "openapi.json");
  const pointer = (...parts) => parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
  const follow = (node) => {
    while (node && node.$ref) {
      node = node.$ref.slice(2).split("/").reduce((at, part) => at?.[part.replaceAll("~1", "/").replaceAll("~0", "~")], document);
    }
    return node;
  };
  const seen = new Set();
  for (const answer of answers) {
    const method = answer.method.toLowerCase();
    const where = `${answer.method} ${answer.route} ${answer.status}`;
    const operation = document.paths?.[answer.route]?.[method];
    const response = follow(operation?.responses?.[String(answer.status)]);
    check(response, `${where}: not a documented response`);
    if (!response) continue;
    seen.add(`${method} ${answer.route} ${answer.status}`);
    for (const name of Object.keys(response.headers ?? {})) {
      check(answer.headers[name.toLowerCase()] !== undefined, `${where}: no ${name} header`);
    }
    const media = response.content?.["application/json"];
    if (!media) {
      check(answer.body === null, `${where}: a body the document does not describe`);
      continue;
    }
    check((answer.headers["content-type"] ?? "").startsWith("application/json"), `${where}: not application/json`);
    // The schema where the document holds it, so its own $refs resolve within the document.
    const responsePointer = operation.responses[String(answer.status)].$ref
      ? operation.responses[String(answer.status)].$ref.slice(1)
      : "/" + pointer("paths", answer.route, method, "responses", answer.status);
    const validate = ajv.compile({ $ref: `openapi.json#${responsePointer}/${pointer("content", "application/json", "schema")}` });
    check(validate(answer.body), `${where}: the body does not match the schema: ${ajv.errorsText(validate.errors)}\n  ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  for (const [route, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      for (const status of Object.keys(operation.responses ?? {})) {
        check(seen.has(`${method} ${route} ${status}`), `${method.toUpperCase()} ${route} ${status}: documented, never answered`);
      }
    }
  }
}

for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`openapi check: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
