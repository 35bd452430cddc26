// Prints one plain closing line, "Summary: N passed, N failed[, N skipped]",
// which CI reads whatever the runner (jest's own summary has another shape).
// It is written when the process exits, so that it comes after jest's summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    const line = `Summary: ${results.numPassedTests} passed, ${failed} failed${tail}\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
