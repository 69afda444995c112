"""Rules of pups 1.3.0 and Psych, one test each; expected values follow from the Ruby sources."""

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import pups

SEP = " _FILE_SEPERATOR_ "


def stdin(*documents):
    """What the bash launcher pipes to pups: hack: true, the documents, echo's newline."""
    return "hack: true" + "".join(SEP + doc for doc in documents) + "\n"


def configure(*documents, environment=None, **kwargs):
    merged = pups.load_documents(stdin(*documents))
    return pups.PupsConfig(merged, environment=environment or {}, **kwargs)


# ---- YAML 1.1 as Psych.safe_load reads it ----------------------------------------------------------


def test_yaml_booleans_are_yaml_1_1_and_case_insensitive():
    loaded = pups.psych_safe_load("a: off\nb: On\nc: yEs\nd: 'no'\ne: nUll\nf: ~\ng:\nh: y")
    assert loaded == {"a": False, "b": True, "c": True, "d": "no", "e": None, "f": None, "g": None, "h": "y"}


def test_yaml_numbers_follow_psych_not_pyyaml():
    loaded = pups.psych_safe_load("a: 1,000\nb: 017\nc: 0x1f\nd: 1_0\ne: 1__0\nf: 1e3\ng: 1.50\nh: .5\ni: 1.")
    assert loaded == {
        "a": 1000,
        "b": 15,
        "c": 31,
        "d": 10,
        "e": "1__0",
        "f": "1e3",
        "g": 1.5,
        "h": 0.5,
        "i": 1.0,
    }


def test_yaml_sexagesimal_uses_psychs_60_to_the_abs_e_minus_2():
    # Psych computes part e * 60 ** |e - 2|: "1:30" is 1*3600 + 30*60
    assert pups.psych_safe_load("a: 1:30\nb: 1:2:3\nc: 2222:22") == {"a": 5400, "b": 3723, "c": 8000520}


def test_yaml_aliases_are_rejected():
    with pytest.raises(pups.PupsError, match="alias"):
        pups.psych_safe_load("a: &x 1\nb: *x", "templates/x.template.yml")


def test_yaml_anchor_without_alias_is_fine():
    assert pups.psych_safe_load("a: &x 1\nb: 2") == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "text, klass", [("a: 2020-01-01", "Date"), ("a: :sym", "Symbol"), ("a: 2001-12-14 21:59:43", "Time")]
)
def test_yaml_classes_outside_safe_load_are_refused(text, klass):
    with pytest.raises(pups.PupsError, match=klass):
        pups.psych_safe_load(text)


def test_yaml_empty_document_is_nil_and_only_the_first_document_counts():
    assert pups.psych_safe_load("") is None
    assert pups.psych_safe_load("# only a comment") is None
    assert pups.psych_safe_load("a: 1\n---\nb: 2") == {"a": 1}


def test_yaml_parse_error_names_file_and_line():
    with pytest.raises(pups.PupsError, match=r"^templates/web.template.yml: YAML error at line 13"):
        pups.psych_safe_load("a: 1\nb: c: d\n", "templates/web.template.yml", line_offset=11)


# ---- Ruby stringification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (True, "true"),
        (False, "false"),
        (None, ""),
        (1, "1"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (1e15, "1.0e+15"),
        (123456789012345.6, "123456789012345.6"),
        (0.0001, "0.0001"),
        (0.00001, "1.0e-05"),
        (-2.5e20, "-2.5e+20"),
        (float("inf"), "Infinity"),
        ([1, None, True, 'x"y\n'], '[1, nil, true, "x\\"y\\n"]'),
        ({"a": [1, 2.5], "b": {}}, '{"a"=>[1, 2.5], "b"=>{}}'),
    ],
)
def test_ruby_to_s(value, text):
    assert pups.ruby_to_s(value) == text


# ---- the deep merge ---------------------------------------------------------------------------------


def test_merge_concatenates_arrays_at_every_depth_and_recurses_into_hashes():
    first = {"run": [1], "hooks": {"after_code": [{"exec": "a"}]}, "params": {"x": {"y": [1]}}}
    second = {"run": [2], "hooks": {"after_code": [{"exec": "b"}]}, "params": {"x": {"y": [2], "z": 1}}}
    assert pups.deep_merge(first, second) == {
        "run": [1, 2],
        "hooks": {"after_code": [{"exec": "a"}, {"exec": "b"}]},
        "params": {"x": {"y": [1, 2], "z": 1}},
    }


def test_merge_later_null_never_overrides_but_a_new_null_key_is_added():
    assert pups.deep_merge({"a": 1, "b": {"c": 1}}, {"a": None, "b": None, "d": None}) == {
        "a": 1,
        "b": {"c": 1},
        "d": None,
    }


def test_merge_type_mismatch_later_wins():
    assert pups.deep_merge({"a": [1], "b": {"x": 1}, "c": "s"}, {"a": {"k": 1}, "b": [2], "c": 3}) == {
        "a": {"k": 1},
        "b": [2],
        "c": 3,
    }


def test_merge_keeps_first_insertion_order_and_appends_new_keys():
    merged = pups.deep_merge({"b": 1, "a": 1}, {"c": 1, "a": 2})
    assert list(merged) == ["b", "a", "c"]


def test_merge_command_replaces_arrays():
    assert pups.apply_merge({"a": [1], "b": {"c": 1}}, {"a": [2], "b": {"d": 2}}) == {
        "a": [2],
        "b": {"c": 1, "d": 2},
    }


def test_documents_fold_in_order_and_trailing_separator_is_ignored():
    merged = pups.load_documents(
        "hack: true _FILE_SEPERATOR_ run:\n  - exec: a\n _FILE_SEPERATOR_ run:\n  - exec: b"
    )
    assert merged == {"hack": True, "run": [{"exec": "a"}, {"exec": "b"}]}
    assert pups.load_documents("a: 1_FILE_SEPERATOR_") == {"a": 1}


def test_a_non_mapping_document_after_the_first_is_an_error_naming_it():
    with pytest.raises(pups.PupsError, match="every document must be a mapping"):
        pups.load_documents(stdin("run:\n  - exec: a", "- just\n- a list"))


# ---- env, env_template, params ----------------------------------------------------------------------


def test_env_is_exported_stringified_and_becomes_dollar_env_params():
    config = configure(
        "env:\n  FOO: bar\n  N: 1\n  F: 1.50\n  T: yes\n  Z:\n"
        "run:\n  - exec: echo $$ENV_FOO $$ENV_N $$ENV_F $$ENV_T [$$ENV_Z] $$ENV_HOME",
        environment={"HOME": "/root", "FOO": "old"},
    )
    assert config.env == {"HOME": "/root", "FOO": "bar", "N": "1", "F": "1.5", "T": "true", "Z": ""}
    assert config.substituted_run() == [{"exec": "echo bar 1 1.5 true [] /root"}]
    assert list(config.params) == ["$ENV_HOME", "$ENV_FOO", "$ENV_N", "$ENV_F", "$ENV_T", "$ENV_Z"]


def test_env_template_applies_to_env_labels_and_the_process_env():
    config = configure(
        "env_template:\n  site: forum\nenv:\n  HOST: '{{site}}.example.com'\n  DB: '{{db}}'\n"
        "labels:\n  app: '{{site}}_x'\nrun:\n  - exec: echo $$ENV_HOST $$ENV_DB $$ENV_X",
        environment={"env_template_db": "pg", "X": "{{site}}"},
    )
    assert config.config["env"] == {"HOST": "forum.example.com", "DB": "pg"}
    assert config.config["labels"] == {"app": "forum_x"}
    assert config.config["env_template"] == {"site": "forum", "db": "pg"}
    assert config.substituted_run() == [{"exec": "echo forum.example.com pg forum"}]


def test_env_template_gsub_interprets_backslash_sequences_like_ruby():
    config = configure("env_template:\n  t: 'T\\&'\nlabels:\n  q: '<{{t}}>'")
    # '\&' in a gsub replacement is the matched text, here "{{t}}"
    assert config.config["labels"] == {"q": "<T{{t}}>"}


def test_extra_params_override_in_place_and_add_at_the_end():
    config = configure(
        "params:\n  p: 1\n  r: 2\nrun:\n  - exec: echo $p $q $r", extra_params=["p=9", "q=3=4", "bad"]
    )
    assert config.substituted_run() == [{"exec": "echo 9 3=4 2"}]
    assert [k for k in config.params if not k.startswith("$ENV_")] == ["p", "r", "q"]
    assert config.warnings == ["Malformed param bad. Expected param to be of the form `key=value`"]


def test_ignore_drops_keys_before_anything_else():
    config = configure("env:\n  A: 1\nparams:\n  p: x\nrun:\n  - exec: echo $p", ignored=["env", "params"])
    assert config.env == {}
    assert config.substituted_run() == [{"exec": "echo $p"}]


# ---- substitution -----------------------------------------------------------------------------------


def test_substitution_has_no_word_boundaries():
    config = configure(
        "params:\n  hello: world\n  reqs_per_second: 12\n"
        "run:\n  - exec: hello $hellos rate=$reqs_per_secondr/s $nope"
    )
    assert config.substituted_run() == [{"exec": "hello worlds rate=12r/s $nope"}]


def test_substitution_runs_in_insertion_order_and_chains():
    forward = configure("params:\n  a: $b\n  b: x\nrun:\n  - exec: $a $b")
    backward = configure("params:\n  b: x\n  a: $b\nrun:\n  - exec: $a $b")
    assert forward.substituted_run() == [{"exec": "x x"}]
    assert backward.substituted_run() == [{"exec": "$b x"}]


def test_substitution_interprets_backslashes_in_param_values():
    config = configure("params:\n  x: 'a\\\\b\\&c\\\\\\\\d'\nrun:\n  - exec: echo $x")
    # the value is a\\b\&c\\\\d: each \\ becomes one backslash, \& is the matched "$x"
    assert config.substituted_run() == [{"exec": "echo a\\b$xc\\\\d"}]


def test_exactly_the_fields_pups_interpolates_are_substituted():
    config = configure(
        "params:\n  p: V\n  dbyml:\n    production:\n      a: 1\nrun:\n"
        "  - exec:\n      cd: /$p\n      cmd: [a $p, b $p]\n      stdin: in $p\n"
        "      tag: $p\n      hook: $p\n"
        "  - exec:\n      cmd: one $p\n  - exec: str $p\n"
        "  - file:\n      path: /$p/f\n      contents: c $p\n      chmod: $p\n      chown: $p\n"
        "  - replace:\n      filename: /$p\n      from: $p\n      to: t $p\n"
        "  - merge: $p/database.yml   $dbyml\n"
    )
    assert config.substituted_run() == [
        {"exec": {"cd": "/V", "cmd": ["a V", "b V"], "stdin": "in V", "tag": "$p", "hook": "$p"}},
        {"exec": {"cmd": "one V"}},
        {"exec": "str V"},
        {"file": {"path": "/V/f", "contents": "c V", "chmod": "$p", "chown": "$p"}},
        {"replace": {"filename": "/$p", "from": "$p", "to": "t V"}},
        {"merge": "V/database.yml $dbyml"},
    ]


def test_exec_cd_prefixes_every_command_even_when_empty():
    config = configure(
        "params:\n  h: /h\nrun:\n  - exec:\n      cd: $h\n      cmd: [a, b]\n"
        "  - exec:\n      cd: ''\n      cmd: c"
    )
    assert config.commands() == [("exec", "cd /h && a"), ("exec", "cd /h && b"), ("exec", "cd  && c")]


def test_exec_bodies_pups_ignores_stay_as_they_are():
    config = configure(
        "run:\n  - exec:\n  - exec: [1, 2]\n  - exec:\n      cmd: 5\n      raise_on_fail: false"
    )
    assert config.substituted_run() == [
        {"exec": None},
        {"exec": [1, 2]},
        {"exec": {"cmd": 5, "raise_on_fail": False}},
    ]
    assert config.commands() == []


def test_a_row_with_several_commands_runs_them_all_in_order():
    config = configure("run:\n  - exec: a\n    file:\n      path: /f\n      contents: x")
    assert config.commands() == [("exec", "a"), ("file", {"path": "/f", "contents": "x"})]


def test_unknown_command_names_the_row():
    config = configure("run:\n  - exec: fine\n  - shell: nope")
    with pytest.raises(pups.PupsError, match=r"row 2.*Invalid run command shell"):
        config.substituted_run()


@pytest.mark.parametrize(
    "row, message",
    [
        ("file: just a string", "file needs a hash"),
        ("replace: a string", "replace needs a hash"),
        ("merge:\n      a: 1", "merge needs a string"),
        ("merge: file.yml notaparam", "Invalid merge command"),
        ("replace:\n      filename: f\n      from: a\n      to: /var/www", "evaluates"),
        ("replace:\n      filename: f\n      to: b", "from"),
    ],
)
def test_malformed_rows_are_errors(row, message):
    config = configure("params:\n  x: 1\nrun:\n  - " + row)
    with pytest.raises(pups.PupsError, match=message):
        config.substituted_run()


# ---- tags and hooks ---------------------------------------------------------------------------------

TAGGED = (
    "run:\n  - exec:\n      tag: build\n      cmd: a\n  - exec: b\n  - exec:\n      tag: db\n      cmd: c\n"
)


def test_tags_keep_only_rows_whose_first_command_has_a_listed_tag():
    assert configure(TAGGED, tags=["build", "db"]).commands() == [("exec", "a"), ("exec", "c")]


def test_skip_tags_drop_listed_tags_and_keep_untagged_rows():
    assert configure(TAGGED, skip_tags=["db"]).commands() == [("exec", "a"), ("exec", "b")]


def test_tag_filter_looks_only_at_the_first_command_of_a_row():
    config = configure("run:\n  - exec: untagged\n    file:\n      tag: db\n      path: /f", tags=["db"])
    assert config.commands() == []


def test_empty_tag_list_drops_every_row():
    assert configure(TAGGED, tags=[]).commands() == []


HOOKED = (
    "run:\n  - exec:\n      hook: code\n      tag: build\n      cmd: code\n"
    "  - exec:\n      hook: db\n      tag: db\n      cmd: db\n"
    "hooks:\n  after_code:\n    - exec: p1\n  before_db:\n    - exec: b1\n"
)


def test_hook_blocks_from_several_templates_are_inserted_in_merged_order():
    config = configure(HOOKED, "hooks:\n  after_code:\n    - exec: p2\n  before_code:\n    - exec: pre\n")
    assert [c for _unused, c in config.commands()] == ["pre", "code", "p1", "p2", "b1", "db"]


def test_hooks_are_injected_after_tag_filtering_and_not_filtered_themselves():
    config = configure(
        HOOKED, "hooks:\n  after_code:\n    - exec:\n        tag: db\n        cmd: p2\n", skip_tags=["db"]
    )
    assert [c for _unused, c in config.commands()] == ["code", "p1", "p2"]
    assert config.warnings == ["Skipped missing before_db hook"]


def test_hook_with_filtered_anchor_is_skipped_with_a_warning():
    config = configure(HOOKED, tags=["db"])
    assert [c for _unused, c in config.commands()] == ["b1", "db"]
    assert config.warnings == ["Skipped missing after_code hook"]


def test_unknown_hook_name_is_a_warning_like_upstream():
    config = configure("run:\n  - exec: a\nhooks:\n  after_nothing:\n    - exec: x\n  after_code:\n")
    assert config.warnings == ["Skipped missing after_nothing hook", "Skipped missing after_code hook"]


def test_hook_anchor_is_found_by_equality_so_an_identical_earlier_row_wins():
    config = configure(
        "run:\n  - exec:\n      hook: x\n      cmd: a\n  - exec:\n      hook: x\n      cmd: a\n  - exec: b\n"
        "hooks:\n  after_x:\n    - exec: inserted\n"
    )
    assert [c for _unused, c in config.commands()] == ["a", "inserted", "a", "b"]


# ---- replace ----------------------------------------------------------------------------------------


def replace(text, **body):
    body.setdefault("filename", "/f")
    return pups.apply_replace(text, body, {})


def test_replace_string_first_match_only():
    assert replace("a.b.a", **{"from": "a", "to": "X"}) == "X.b.a"


def test_replace_global_true_or_string_true():
    assert replace("a.b.a", **{"from": "a", "to": "X", "global": True}) == "X.b.X"
    assert replace("a.b.a", **{"from": "a", "to": "X", "global": "true"}) == "X.b.X"
    assert replace("a.b.a", **{"from": "a", "to": "X", "global": "yes"}) == "X.b.a"


def test_replace_no_match_is_a_no_op():
    assert replace("abc", **{"from": "/zz/", "to": "X"}) == "abc"


def test_replace_regex_caret_and_dollar_are_line_anchors():
    assert replace("a\n  ssl on;\nb\n", **{"from": "/^ *ssl.*$/", "to": "", "global": True}) == "a\n\nb\n"


def test_replace_multiline_regex_m_flag_is_dot_all():
    text = "upstream a {\n b\n}\nupstream c {\n d }\n"
    assert replace(text, **{"from": "/upstream[^\\}]+\\}/m", "to": "U", "global": True}) == "U\nU\n"
    assert replace("x{a\nb}", **{"from": "/{.*}/", "to": "U"}) == "x{a\nb}"
    assert replace("x{a\nb}", **{"from": "/{.*}/m", "to": "U"}) == "xU"


def test_replace_i_and_x_flags():
    assert replace("Hello", **{"from": "/hello/i", "to": "bye"}) == "bye"
    assert replace("ab", **{"from": "/a b # comment\n/x", "to": "Z"}) == "Z"


def test_replace_reverse_replaces_the_last_match():
    assert replace("abcabc", **{"from": "/b/", "to": "X", "direction": "reverse"}) == "abcaXc"


def test_replace_reverse_at_index_zero_duplicates_the_text_like_upstream():
    # text[0..index - 1] with index 0 is text[0..-1]: the whole text
    assert replace("abc", **{"from": "a", "to": "X", "direction": "reverse"}) == "abcXbc"


def test_replace_reverse_without_match_fails_like_upstream():
    with pytest.raises(pups.PupsError, match="no match"):
        replace("abc", **{"from": "zz", "to": "X", "direction": "reverse"})


def test_replace_to_backreferences_and_special_sequences():
    assert replace("xx\nab\n", **{"from": "/^a(b)$/", "to": "Z\\1"}) == "xx\nZb\n"
    assert replace("abc", **{"from": "b", "to": "<\\0\\&\\`\\'\\\\\\x\\1>"}) == "a<bbac\\\\x>c"


def test_replace_to_hash_looks_up_the_matched_text():
    assert replace("a-b", **{"from": "/[ab]/", "to": {"a": "1"}, "global": True}) == "1-"


def test_replace_to_is_interpolated_but_from_is_not():
    body = {"filename": "/f", "from": "$p", "to": "[$p]"}
    assert pups.apply_replace("x $p y", body, {"p": "V"}) == "x [V] y"


def test_ruby_regex_translation():
    assert pups.parse_ruby_regex("/(?<n>a)\\k<n>\\h\\z/").pattern == "(?P<n>a)(?P=n)[0-9a-fA-F]\\Z"
    assert pups.parse_ruby_regex("/[[:digit:]]+/").match("42")
    with pytest.raises(pups.PupsError):
        pups.parse_ruby_regex("/a/w")


# ---- --gen-docker-run-args --------------------------------------------------------------------------


def test_docker_run_args_escape_skip_empty_sort_groups():
    config = configure(
        "env:\n  A: 'has space'\n  B: \"q'uo\\\"te\"\n  C: ''\n  D: é\n  E: ~\n  F: 1.0\n"
        "expose:\n  - '80:80'\n  - 443\n"
        "volumes:\n  - volume:\n      host: /h\n      guest: /g\n"
        "links:\n  - link:\n      name: n\n      alias: a\n"
        "labels:\n  l1: v 1\n  l2:\n"
    )
    assert config.docker_run_args() == (
        '--env A="has\\ space" --env B=q\\\'uo\\"te --env D=\\é --env F=1.0 '
        "--label l1=\"v\\ 1\" --label l2='' --link n:a --publish 80:80 --expose 443 --volume /h:/g"
    )


def test_docker_run_args_empty_config_prints_nothing():
    assert configure("run: []").docker_run_args() == ""


def test_shellescape_matches_ruby():
    assert pups.shellescape("") == "''"
    assert pups.shellescape("a$b c\nd") == "a\\$b\\ c'\n'd"


# ---- the launcher's docker run env ------------------------------------------------------------------


def test_launcher_env_is_shallow_merge_over_lang_with_null_as_empty_and_config_name():
    docs = [{"hack": True}, {"env": {"A": "x", "B": 1}}, {"env": {"A": None, "N": "{{config}}-n"}}]
    env, _unused, _unused = pups.launcher_env(docs, "app")
    assert env == {"LANG": "en_US.UTF-8", "A": "", "B": "1", "N": "app-n"}


def test_launcher_labels_shallow_merge_and_expose_concatenates():
    docs = [
        {"labels": {"a": "{{config}}_x", "b": "1"}, "expose": ["80:80"]},
        {"labels": {"b": "2"}, "expose": [443]},
    ]
    _unused, labels, expose = pups.launcher_env(docs, "web")
    assert labels == {"a": "web_x", "b": "2"}
    assert expose == ["80:80", "443"]


def test_launcher_env_refuses_hash_values():
    with pytest.raises(pups.PupsError, match="hash"):
        pups.launcher_env([{"env": {"A": {"b": 1}}}], "app")
