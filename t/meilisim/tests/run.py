#!/usr/bin/env python3
"""Run the meilisim conformance suite.

    python3 t/meilisim/tests/run.py [-v] [pattern]

Without MEILI_URL each test class starts its own emulator; with MEILI_URL
(and MEILI_MASTER_KEY) the suite runs against that Meilisearch and skips the
emulator-only tests.  The last line is
"meilisim conformance: N passed, N failed".
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    verbose = "-v" in sys.argv
    args = [a for a in sys.argv[1:] if a != "-v"]
    pattern = args[0] if args else "test_*.py"
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2 if verbose else 1, resultclass=Result, stream=sys.stdout)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    if res.skipped:
        print("meilisim conformance: %d skipped" % len(res.skipped))
    print("meilisim conformance: %d passed, %d failed" % (res.passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
