// Prints the totals as one plain line CI reads: "N passed, N failed".
// Skipped tests are reported separately and count as neither.
const fs = require('node:fs');

class CountReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line =
      `${results.numPassedTests} passed, ${failed} failed` +
      (results.numPendingTests ? ` (${results.numPendingTests} skipped)` : '');
    if (process.env.DIBCTL_TEST_SUMMARY)
      fs.appendFileSync(
        process.env.DIBCTL_TEST_SUMMARY,
        JSON.stringify({ passed: results.numPassedTests, failed, skipped: results.numPendingTests }) + '\n',
      );
    process.stdout.write(line + '\n');
  }
}
module.exports = CountReporter;
