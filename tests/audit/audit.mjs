#!/usr/bin/env node
// Runs the graphql-http server audit (GraphQL over HTTP spec conformance) against a
// running todoql server and prints one line per audit.
//
//   node tests/audit/audit.mjs http://127.0.0.1:8000/graphql
//
// Exit status: 0 when every audit is ok (notices, the spec's MAYs, are printed but
// tolerated); 1 when any audit errors or warns; 2 on bad usage or a fatal failure
// (the server could not be reached at all).
//
// Run `npm ci --prefix tests/audit` once to install the pinned graphql-http.

import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url || !/^https?:\/\//.test(url)) {
  console.error('usage: node audit.mjs <server url, e.g. http://127.0.0.1:8000/graphql>');
  process.exit(2);
}

/** A short, single-line excerpt of a failed audit's response, to help diagnose it. */
async function describeResponse(response) {
  if (!response || typeof response.status !== 'number') return '';
  let body = '';
  try {
    body = await response.clone().text();
  } catch {
    body = '<body already consumed>';
  }
  body = body.replace(/\s+/g, ' ').trim();
  if (body.length > 300) body = `${body.slice(0, 300)}…`;
  const type = response.headers?.get?.('content-type') ?? '';
  return `HTTP ${response.status} ${type} ${body}`.trim();
}

let results;
try {
  results = await auditServer({ url });
} catch (error) {
  console.error(`audit could not run against ${url}: ${error?.stack ?? error}`);
  process.exit(2);
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  if (result.status === 'ok') {
    console.log(`ok     ${result.id} ${result.name}`);
    continue;
  }
  console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}`);
  console.log(`         reason: ${result.reason}`);
  const response = await describeResponse(result.response);
  if (response) console.log(`         response: ${response}`);
}

const failed = counts.error + counts.warn;
console.log(
  `graphql-http audit of ${url}: ${results.length} audits, ${counts.ok} ok, ` +
    `${counts.notice} notice, ${counts.warn} warn, ${counts.error} error` +
    (failed ? ' — FAILED' : ' — passed'),
);
process.exit(failed ? 1 : 0);
