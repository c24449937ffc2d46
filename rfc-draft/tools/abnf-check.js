#!/usr/bin/env node
// abnf-check.js - generate a parser from ABNF with apg-js and run cases.
//
// usage: node abnf-check.js GRAMMAR.abnf [MORE.abnf...] < cases.json
//
// The grammar files are concatenated (the draft's rules first, then the
// rules it imports from RFC 5234 and RFC 5321, see imported.abnf) and
// given to apg-js in strict mode: plain RFC 5234 / RFC 7405 ABNF, none
// of apg's superset operators.  A rule defined twice, a rule used but
// never defined, or a syntax error makes the generation fail.
//
// cases.json is a JSON array of {"rule": NAME, "text": STRING}.  The
// output is one JSON object on standard output:
//
//   {"ok": true, "rules": [NAME...], "results": [true/false...]}
//
// or {"ok": false, "errors": TEXT} when the grammar does not generate
// (exit status 2).  Each result says whether the whole text matched the
// rule.  Parsing is apg's (prioritized choice, greedy repetition), so
// the grammar must be written so that this agrees with plain ABNF; the
// draft's grammar is.
'use strict';

const fs = require('fs');
const { apgApi, apgLib } = require('apg-js');

function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: abnf-check.js GRAMMAR.abnf... < cases.json\n');
    process.exit(64);
  }
  let src = '';
  for (const f of files) {
    src += fs.readFileSync(f, 'ascii');
    if (!src.endsWith('\n')) src += '\n';
  }
  // strict mode wants CRLF line ends
  src = src.replace(/\r?\n/g, '\r\n');

  const api = new apgApi(src);
  api.generate(true);
  if (api.errors.length > 0) {
    process.stdout.write(`${JSON.stringify({ ok: false, errors: api.errorsToAscii() })}\n`);
    process.exit(2);
  }
  const grammar = api.toObject();
  const parser = new apgLib.parser();
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  const results = cases.map((c) => {
    const chars = apgLib.utils.stringToChars(c.text);
    return parser.parse(grammar, c.rule, chars).success;
  });
  const rules = grammar.rules.map((r) => r.name);
  process.stdout.write(`${JSON.stringify({ ok: true, rules, results })}\n`);
}

main();
