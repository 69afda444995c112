"""module_utils/compatibility: upstream's .discourse-compatibility rules, checked against RubyGems and git.

Upstream: ``Discourse.find_compatible_resource`` in discourse/discourse ``lib/version.rb`` (read at
00903f6b1194b2a4be74d41f9aaa8c8bff0a6495) and its spec ``spec/lib/version_spec.rb`` (read at
077bf13f1f9e52b092124d4641563623c595e026), whose tables the first tests repeat.
"""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import compatibility
from ansible_collections.forumops.discourse.plugins.module_utils.compatibility import (
    InvalidVersionListError,
    compatible_ref,
)

# spec/lib/version_spec.rb "with a regular compatible list", and the same entries out of order
SPEC_BETAS = (
    "2.5.0.beta6: twofivebetasix\n2.5.0.beta4: twofivebetafour\n2.5.0.beta2: twofivebetatwo\n"
    "2.4.4.beta6: twofourfourbetasix\n2.4.2.beta1: twofourtwobetaone\n"
)
SPEC_BETAS_SHUFFLED = (
    "2.4.2.beta1: twofourtwobetaone\n2.5.0.beta4: twofivebetafour\n2.5.0.beta6: twofivebetasix\n"
    "2.5.0.beta2: twofivebetatwo\n2.4.4.beta6: twofourfourbetasix\n"
)
# spec/lib/version_spec.rb "with different version operators"
SPEC_OPERATORS = (
    "<= 3.2.0.beta1: lteBeta1\n3.2.0.beta2: lteBeta2\n< 3.2.0.beta4: ltBeta4\n<= 3.2.0.beta4: lteBeta4\n"
)

# Our own: every form upstream accepts, around releases, betas and the -latest builds
FORMS = """\
< 3.5.0.beta3: before-beta3
3.5.0.beta3: at-beta3
<= 3.5.0: through-350
< 2026.2.0: before-2026-2
"""


@pytest.mark.parametrize("text", [SPEC_BETAS, SPEC_BETAS_SHUFFLED])
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("2.6.0", None),  # above every entry: the head is compatible
        ("2.5.0.beta4", "twofivebetafour"),  # equal: a bare version is <=
        ("2.4.6.beta12", "twofivebetatwo"),  # between: the lowest entry above it
        ("1.4.6.beta12", "twofourtwobetaone"),  # below all: the lowest entry
    ],
)
def test_upstream_spec_beta_lists(text, target, expected):
    assert compatible_ref(text, target) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("3.2.0.beta1", "lteBeta1"),
        ("3.2.0.beta0", "lteBeta1"),
        ("3.2.0.beta2", "lteBeta2"),
        ("3.2.0.beta3", "ltBeta4"),
        ("3.2.0.beta4", "lteBeta4"),  # "< 3.2.0.beta4" no longer holds
        ("3.2.0", None),
    ],
)
def test_upstream_spec_operators_in_either_order(target, expected):
    assert compatible_ref(SPEC_OPERATORS, target) == expected
    reversed_text = "\n".join(reversed(SPEC_OPERATORS.splitlines())) + "\n"
    assert compatible_ref(reversed_text, target) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("3.4.9", "before-beta3"),
        ("3.5.0.beta2", "before-beta3"),  # below "< 3.5.0.beta3"
        ("3.5.0.beta3", "at-beta3"),  # equal: "<" fails, the bare "=" (read as <=) holds
        ("3.5.0.beta4", "through-350"),  # a beta is below its release
        ("3.5.0", "through-350"),  # equal to "<= 3.5.0"
        ("3.5.1", "before-2026-2"),
        ("2026.1.2", "before-2026-2"),
        ("2026.2.0-latest", "before-2026-2"),  # "-latest" is a pre-release of 2026.2.0
        ("2026.2.0", None),  # equal to "< 2026.2.0": fails, nothing else is left
        ("2026.3.0", None),  # above every entry
    ],
)
def test_every_accepted_form_below_equal_and_above(target, expected):
    assert compatible_ref(FORMS, target) == expected


def test_lt_sorts_before_lte_at_the_same_version_whatever_the_file_order():
    text = "3.5.0: lte\n< 3.5.0: lt\n"
    assert compatible_ref(text, "3.4.0") == "lt"
    assert compatible_ref(text, "3.5.0") == "lte"


def test_two_keys_for_the_same_requirement_keep_the_later_ref():
    # Ruby's Hash#transform_keys: "3.5.0" and "= 3.5.0" become one key, the later value wins
    assert compatible_ref("3.5.0: first\n= 3.5.0: second\n", "3.5.0") == "second"


@pytest.mark.parametrize("text", [None, "", "  \n\t\n"])
def test_an_empty_file_names_nothing(text):
    assert compatible_ref(text, "3.5.0") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0.0.beta1 12f82d5", "not a mapping of Discourse versions to git refs but a string"),
        ("- 3.5.0: abc\n", "not a mapping of Discourse versions to git refs but a list"),
        ("# only a comment\n", "not a mapping of Discourse versions to git refs but an empty document"),
        ("2026-01-01: abc\n", "dates and times are not allowed (YAML.safe_load refuses them)"),
        ("3.5.0: &a abc\n3.6.0: *a\n", "YAML aliases are not allowed"),
        ("1.1.: test\n", "Invalid version specifier: 1.1."),
        ("latest: abc\n", "Invalid version specifier: latest"),
        # a YAML boolean key, named as Ruby's to_s names it
        ("yes: abc\n", "Invalid version specifier: true"),
        (
            "~> 3.1.0: test\n",
            "Invalid version specifier operator for '~> 3.1.0'. Operator must be one of <= or <",
        ),
        (
            '">= 3.1.0": test\n',
            "Invalid version specifier operator for '>= 3.1.0'. Operator must be one of <= or <",
        ),
        ("3.5.0: bad..ref\n", "Invalid ref name: bad..ref"),
        ("3.5.0: -oops\n", "Invalid ref name: -oops"),
        ("3.5.0: a ref\n", "Invalid ref name: a ref"),
        ("3.5.0:\n", "Invalid ref name: '<= 3.5.0' has no ref"),
        ("3.5.0: 1234567\n", "Invalid ref name: 1234567 is a YAML int, not a string (quote it)"),
    ],
)
def test_invalid_files_raise_naming_the_problem(text, message):
    with pytest.raises(InvalidVersionListError) as error:
        compatible_ref(text, "3.1.0")
    assert str(error.value) == message


def test_unparsable_yaml_is_invalid():
    # upstream: YAML.safe_load raises, is rescued, and the text is then not a Hash (">" starts a block scalar)
    with pytest.raises(InvalidVersionListError, match=r"\Anot valid YAML: while scanning a block scalar"):
        compatible_ref(">= 3.1.0: test\n", "3.1.0")


def test_a_bad_operator_or_ref_raises_only_when_the_search_reaches_it():
    # upstream checks the operator, and the ref, inside its find: an entry matched earlier wins first
    text = '3.0.0: old\n">= 4.0.0": never\n5.0.0: bad..ref\n'
    assert compatible_ref(text, "2.9.0") == "old"
    with pytest.raises(InvalidVersionListError, match=r"operator for '>= 4\.0\.0'"):
        compatible_ref(text, "3.5.0")
    assert compatible_ref("3.0.0: old\n5.0.0: bad..ref\n", "3.0.0") == "old"
    with pytest.raises(InvalidVersionListError, match=r"\AInvalid ref name: bad\.\.ref\Z"):
        compatible_ref("3.0.0: old\n5.0.0: bad..ref\n", "4.0.0")


def test_a_malformed_target_version_is_a_value_error_not_the_files_fault():
    with pytest.raises(ValueError, match=r"\AMalformed version number string v3\.5\.0\Z") as error:
        compatible_ref("3.5.0: abc\n", "v3.5.0")
    assert not isinstance(error.value, InvalidVersionListError)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("3.5.0.beta3", "3.5.0", -1),
        ("3.5.0.beta3", "3.5.0.beta10", -1),
        ("3.5", "3.5.0", 0),
        ("3.5.0", "3.5.0.0", 0),
        ("2026.3.0-latest", "2026.3.0", -1),
        ("2026.3.0-latest", "2026.2.9", 1),
        ("2026.3.0-latest.1", "2026.3.0-latest", 1),
        ("1.0.a.0", "1.0.a", 0),
        ("1.a", "1.A", 1),
        ("10.0", "9.99", 1),
    ],
)
def test_gem_version_comparison(left, right, expected):
    assert compatibility.compare_versions(left, right) == expected


# ---------------------------------------------------------------------------------------------------
# Cross-checks with the real thing: the ruby and git on this machine

VERSIONS = [
    "0", "1", "1.0", "1.0.0", "3.4.9", "3.5", "3.5.0", "3.5.0.0", "3.5.0.beta1", "3.5.0.beta3",
    "3.5.0.beta10", "3.5.0.rc1", "3.5.0.pre", "3.5.0.a", "3.5.0.Z", "3.5.1", "3.10.0", "2026.2.0",
    "2026.2.1", "2026.3.0-latest", "2026.3.0-latest.1", "2026.3.0", "1.0.a.0", "1.0.a.1", "1.a.b.2",
    "2.5.0.beta6-dev", " 3.5.0 ", "",
]  # fmt: skip
KEYS = [
    "3.5.0", "<= 3.5.0", "< 3.5.0", "<3.5.0", "<=3.5.0.beta3", "= 3.5.0", ">= 3.1.0", "> 3.1", "~> 3.1",
    "!= 3.1", "  <  2026.3.0-latest  ", "1.1.", "latest", "<== 3.5", "=< 3.5", "3.5.0 beta", "v3.5.0",
    ">= 0", "",
]  # fmt: skip
MALFORMED = ["v3.5.0", "3.5.0.", "3..5", "3.5.0_1", "a.b", "3.5 0", "-1"]

RUBY_ORACLE = r"""
require "json"
require "rubygems"
data = JSON.parse(STDIN.read)
out = {}
out["compare"] = data["pairs"].map { |a, b| Gem::Version.new(a) <=> Gem::Version.new(b) }
out["parse"] = data["keys"].map do |key|
  operator, version = Gem::Requirement.parse(key)
  [operator, version.to_s]
rescue Gem::Requirement::BadRequirementError
  nil
end
out["satisfied"] = data["checks"].map do |target, operator, version|
  Gem::Requirement.new("#{operator} #{version}").satisfied_by?(Gem::Version.new(target))
end
out["correct"] = data["malformed"].map { |v| Gem::Version.correct?(v) ? true : false }
# the lookup the way the spec describes it: entries sorted by [version, "<" first], the first satisfied
out["lookup"] = data["lookups"].map do |entries, target|
  parsed = entries.map { |key, ref| [Gem::Requirement.parse(key), ref] }
  sorted = parsed.sort_by { |(operator, version), _| [version, operator == "<" ? 0 : 1] }
  hit = sorted.find do |(operator, version), _|
    operator = "<=" if operator == "="
    Gem::Requirement.new("#{operator} #{version}").satisfied_by?(Gem::Version.new(target))
  end
  hit && hit[1]
end
puts JSON.generate(out)
"""

LOOKUP_FILES = [
    [["< 3.5.0.beta3", "a"], ["3.5.0.beta3", "b"], ["<= 3.5.0", "c"], ["< 2026.2.0", "d"]],
    [["2.5.0.beta6", "e"], ["2.4.2.beta1", "f"], ["< 2.5.0", "g"], ["3", "h"]],
    # "<=" before "<" in the file: the sort, not the file order, must put "<" first
    [["<= 3.2.0.beta4", "l"], ["<= 3.2.0.beta1", "i"], ["3.2.0.beta2", "j"], ["< 3.2.0.beta4", "k"]],
]


@pytest.fixture(scope="module")
def ruby():
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("no ruby on this machine")
    return ruby


def test_versions_requirements_and_lookups_agree_with_rubygems(ruby):
    pairs = [[a, b] for a in VERSIONS for b in VERSIONS]
    targets = [v for v in VERSIONS if v.strip()]
    bounds = ["3.5.0", "3.5.0.beta3", "3.5", "2026.3.0-latest", "1.0.a"]
    checks = [[t, op, b] for t in targets for op in ("<", "<=") for b in bounds]
    more = [
        "2.4.0",
        "2.5.0.beta6",
        "2.5.0.rc1",
        "2.9",
        "3.2.0.beta1",
        "3.2.0.beta2",
        "3.2.0.beta3",
        "3.2.0.beta4",
    ]
    lookups = [[entries, t] for entries in LOOKUP_FILES for t in targets + more]
    request = {"pairs": pairs, "keys": KEYS, "checks": checks, "malformed": MALFORMED, "lookups": lookups}
    answer = subprocess.run(
        [ruby, "-e", RUBY_ORACLE], input=json.dumps(request), capture_output=True, text=True, check=True
    )
    expected = json.loads(answer.stdout)

    assert [compatibility.compare_versions(a, b) for a, b in pairs] == expected["compare"]

    def parsed(key):
        try:
            operator, version = compatibility.parse_requirement(key)
        except InvalidVersionListError:
            return None
        return [operator, str(version)]

    assert [parsed(key) for key in KEYS] == expected["parse"]
    assert [compatibility.satisfies(t, op, b) for t, op, b in checks] == expected["satisfied"]

    def correct(text):
        try:
            compatibility.GemVersion(text)
        except ValueError:
            return False
        return True

    assert [correct(v) for v in MALFORMED] == expected["correct"] == [False] * len(MALFORMED)

    def lookup(entries, target):
        text = "".join(f"{json.dumps(key)}: {json.dumps(ref)}\n" for key, ref in entries)
        return compatible_ref(text, target)

    assert [lookup(entries, t) for entries, t in lookups] == expected["lookup"]
    # the table is not trivial: it holds misses and hits of every file
    assert set(expected["lookup"]) == {None, *"abcdefghijkl"}


REFS = [
    "main", "v1.0", "abc1234", "release/3.5", "refs/heads/main", "HEAD", "@a", "a@", "@@", "a/@/b",
    "x.lockx", "a./b", "héllo", "a/-b", "-foo", "@", "", "a..b", "a/.b", ".a", "a.", "a/", "/a", "a//b",
    "a.lock", "a/b.lock/c", "a@{b", "a b", "a\tb", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b",
    "a\x7fb",
]  # fmt: skip


def test_ref_names_agree_with_git_check_ref_format():
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null")
    expected = [
        subprocess.run(
            ["git", "check-ref-format", "--allow-onelevel", ref], env=env, capture_output=True, check=False
        ).returncode
        == 0
        for ref in REFS
    ]
    assert [compatibility.valid_ref_name(ref) for ref in REFS] == expected
    assert True in expected and False in expected
