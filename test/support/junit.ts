/**
 * Reads a JUnit XML report with a real XML parser (Python's ElementTree, as
 * many CI tools use) and returns its shape, so tests check what a CI server
 * would see: suites, their counts and times, each case and its failure.
 */
import { execFileSync } from 'node:child_process';

interface JUnitCase {
  classname: string;
  name: string;
  time: number;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  skipped?: { message: string };
  systemOut?: string;
}

interface JUnitSuite {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  time: number;
  timestamp: string;
  cases: JUnitCase[];
}

const READER = `
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
def outcome(el):
    return None if el is None else {"message": el.get("message", ""), "type": el.get("type", ""), "text": el.text or ""}
suites = []
for s in root.findall("testsuite"):
    cases = []
    for c in s.findall("testcase"):
        case = {"classname": c.get("classname"), "name": c.get("name"), "time": float(c.get("time"))}
        for tag in ("failure", "error"):
            if c.find(tag) is not None:
                case[tag] = outcome(c.find(tag))
        if c.find("skipped") is not None:
            case["skipped"] = {"message": c.find("skipped").get("message", "")}
        if c.find("system-out") is not None:
            case["systemOut"] = c.find("system-out").text or ""
        cases.append(case)
    suites.append({
        "name": s.get("name"), "tests": int(s.get("tests")), "failures": int(s.get("failures")),
        "errors": int(s.get("errors")), "skipped": int(s.get("skipped")), "time": float(s.get("time")),
        "timestamp": s.get("timestamp"), "cases": cases,
    })
print(json.dumps(suites))
`;

/** The suites of a JUnit XML file; throws when it is not well-formed XML of that shape. */
function readJUnit(file: string): JUnitSuite[] {
  return JSON.parse(execFileSync('python3', ['-c', READER, file], { encoding: 'utf8' })) as JUnitSuite[];
}

/** The one suite of a dibctl report, after checking that its counts and time agree with its cases. */
export function oneSuite(file: string): JUnitSuite {
  const suites = readJUnit(file);
  if (suites.length !== 1) throw new Error(`expected one testsuite, got ${suites.length}`);
  const s = suites[0];
  const count = (p: (c: JUnitCase) => boolean) => s.cases.filter(p).length;
  const problems = [
    s.tests !== s.cases.length && `tests=${s.tests} but ${s.cases.length} cases`,
    s.failures !== count((c) => Boolean(c.failure)) && `failures=${s.failures}`,
    s.errors !== count((c) => Boolean(c.error)) && `errors=${s.errors}`,
    s.skipped !== count((c) => Boolean(c.skipped)) && `skipped=${s.skipped}`,
    Math.abs(s.time - s.cases.reduce((t, c) => t + c.time, 0)) > 0.01 && `time=${s.time}`,
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(s.timestamp) && `timestamp=${s.timestamp}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`inconsistent testsuite: ${problems.join(', ')}`);
  return s;
}
