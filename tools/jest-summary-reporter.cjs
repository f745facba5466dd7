// CI counts tests from one plain closing line, "N passed, M failed". A suite that fails to load
// (syntax error, missing module) runs no test, so it is counted as a failure here rather than vanishing.
// The line goes to stderr after jest's own summary; with JEST_SUMMARY_FILE set it is also written there,
// so .ci/run can repeat it as the very last line of its output.
const { writeFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped`;
    process.stderr.write(`${line}\n`);
    if (process.env.JEST_SUMMARY_FILE) writeFileSync(process.env.JEST_SUMMARY_FILE, `${line}\n`);
  }
}
module.exports = SummaryReporter;
