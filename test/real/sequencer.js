// Suites in name order, with the leftover check after everything else.
const Sequencer = require('@jest/test-sequencer').default;

class LeftoversLast extends Sequencer {
  sort(tests) {
    const last = (t) => (/leftovers\.test\.ts$/.test(t.path) ? 1 : 0);
    return [...tests].sort((a, b) => last(a) - last(b) || a.path.localeCompare(b.path));
  }
}
module.exports = LeftoversLast;
