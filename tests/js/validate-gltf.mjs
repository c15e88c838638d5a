// Validates a GLB with the Khronos glTF-Validator: prints the report as JSON and exits non-zero when the report
// has any error or warning, or when the file cannot be read.
// Usage: node tests/js/validate-gltf.mjs model.glb
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate-gltf.mjs <file.glb>');
  process.exit(2);
}

let validator;
try {
  validator = require('gltf-validator');
} catch (err) {
  console.error(`gltf-validator is not installed (run npm ci in tests/js): ${err.message}`);
  process.exit(3);
}

try {
  const bytes = new Uint8Array(await readFile(path));
  const report = await validator.validateBytes(bytes, { maxIssues: 0 });
  console.log(JSON.stringify(report, null, 2));
  const { numErrors, numWarnings } = report.issues;
  if (numErrors > 0 || numWarnings > 0) {
    console.error(`${path}: ${numErrors} errors, ${numWarnings} warnings`);
    process.exit(1);
  }
} catch (err) {
  console.error(`${path}: validation failed: ${err && err.message ? err.message : err}`);
  process.exit(1);
}
