"""Checks a JUnit XML file against the xunit2 rules of tests/regress/junit-xunit2.xsd.

The same rules as the XSD, in Python's standard library (xmllint is optional): element order and
nesting, required attributes, counts that are non-negative integers and agree with the cases,
times that are non-negative decimals, one result element at most per case.
Returns a list of problems (empty when the file is valid).
    python3 -m regress.junit FILE.xml
"""
import re
import sys
import xml.etree.ElementTree as ET

_INT = re.compile(r"^[0-9]+$")
_DEC = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def _attrs(el, where, required, optional, problems, ints=(), decs=()):
    for a in required:
        if a not in el.attrib:
            problems.append(f"{where}: missing attribute '{a}'")
    for a in el.attrib:
        if a not in required and a not in optional:
            problems.append(f"{where}: attribute '{a}' not allowed")
    for a in ints:
        if a in el.attrib and not _INT.match(el.attrib[a]):
            problems.append(f"{where}: '{a}' must be a non-negative integer, got '{el.attrib[a]}'")
    for a in decs:
        if a in el.attrib and not _DEC.match(el.attrib[a]):
            problems.append(f"{where}: '{a}' must be a non-negative decimal, got '{el.attrib[a]}'")


def _order(children, allowed, where, problems):
    """children's tags must follow `allowed` (a list of (tag-set, max count)) in order."""
    i = 0
    for slot_tags, most in allowed:
        n = 0
        while i < len(children) and children[i].tag in slot_tags:
            n += 1
            i += 1
        if most is not None and n > most:
            problems.append(f"{where}: at most {most} of {'/'.join(sorted(slot_tags))}")
    if i < len(children):
        problems.append(f"{where}: unexpected <{children[i].tag}> (element {i + 1})")


def _properties(el, where, problems):
    for j, p in enumerate(el):
        if p.tag != "property":
            problems.append(f"{where}: <{p.tag}> not allowed in <properties>")
            continue
        _attrs(p, f"{where}/property[{j + 1}]", ("name", "value"), (), problems)


def check_tree(root):
    problems = []
    if root.tag != "testsuites":
        return [f"root element is <{root.tag}>, expected <testsuites>"]
    _attrs(root, "testsuites", (), ("name", "tests", "failures", "errors", "skipped", "time"),
           problems, ints=("tests", "failures", "errors", "skipped"), decs=("time",))
    _order(list(root), [({"testsuite"}, None)], "testsuites", problems)
    for i, ts in enumerate(root.findall("testsuite")):
        where = f"testsuite[{i + 1}]"
        _attrs(ts, where, ("name", "tests", "failures", "errors"),
               ("skipped", "time", "timestamp", "hostname"), problems,
               ints=("tests", "failures", "errors", "skipped"), decs=("time",))
        if "timestamp" in ts.attrib and not _DATETIME.match(ts.attrib["timestamp"]):
            problems.append(f"{where}: 'timestamp' is not an xs:dateTime")
        _order(list(ts), [({"properties"}, 1), ({"testcase"}, None), ({"system-out"}, 1),
                          ({"system-err"}, 1)], where, problems)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for p in ts.findall("properties"):
            _properties(p, where, problems)
        for j, tc in enumerate(ts.findall("testcase")):
            w = f"{where}/testcase[{j + 1}]"
            _attrs(tc, w, ("name", "classname", "time"), (), problems, decs=("time",))
            _order(list(tc), [({"properties"}, 1), ({"skipped", "failure", "error"}, 1),
                              ({"system-out"}, 1), ({"system-err"}, 1)], w, problems)
            counts["tests"] += 1
            for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                for el in tc.findall(tag):
                    counts[key] += 1
                    _attrs(el, f"{w}/{tag}", (), ("message", "type"), problems)
                    if len(el):
                        problems.append(f"{w}/{tag}: must hold text only")
            for p in tc.findall("properties"):
                _properties(p, w, problems)
        for key, n in counts.items():
            have = ts.attrib.get(key)
            if have is not None and _INT.match(have) and int(have) != n:
                problems.append(f"{where}: {key}={have} but the cases hold {n}")
    return problems


def check_file(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        return [f"{path}: {e}"]
    return [f"{path}: {p}" for p in check_tree(root)]


if __name__ == "__main__":
    bad = [p for f in sys.argv[1:] for p in check_file(f)]
    for p in bad:
        print(p, file=sys.stderr)
    sys.exit(1 if bad else 0)
