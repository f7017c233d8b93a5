"""The safety-rule engine of checked answers (engine/checks/rules.py) and its shipped rules."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant_router.engine.checks import rules as checks
from assistant_router.engine.checks.rules import (
    RuleSet,
    added_findings,
    ast_grep_language,
    find,
    load_rules,
)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules()


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def ids(findings: list[checks.Finding]) -> list[str]:
    return [f.rule_id for f in findings]


# --------------------------------------------------------------------------- #
# Every shipped rule: a sample it must match and one it must not.
# A pattern that does not parse matches nothing, silently: this table is the only guard.

_JS_SAMPLES = [
    ("eval-non-literal", "const v = eval(userCode);", 'const v = eval("1 + 1");'),
    ("eval-non-literal", 'const f = new Function("a", body);', 'const f = new Function("a", "return a * 2");'),
    ("eval-non-literal", "eval(`x = ${value}`);", "eval(`x = 1`);"),
    (
        "child-process-exec-formatted",
        "child_process.exec(`ls ${dir}`, cb);",
        'child_process.execFile("ls", [dir], cb);',
    ),
    ("child-process-exec-formatted", 'exec("ls " + dir);', 'exec("ls -l");'),
    (
        "sql-formatted",
        "db.query(`SELECT * FROM users WHERE id = ${id}`);",
        'db.query("SELECT * FROM users WHERE id = $1", [id]);',
    ),
    ("sql-formatted", 'pool.query("SELECT * FROM users WHERE id = " + id);', "const total = a.query(x + y);"),
    (
        "tls-verification-disabled",
        "const agent = new https.Agent({ rejectUnauthorized: false });",
        "const agent = new https.Agent({ rejectUnauthorized: true });",
    ),
    (
        "tls-verification-disabled",
        'process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";',
        'process.env.NODE_TLS_REJECT_UNAUTHORIZED = "1";',
    ),
    (
        "weak-password-hash",
        "const h = crypto.createHash('md5').update(password).digest('hex');",
        "const h = crypto.createHash('md5').update(fileContents).digest('hex');",
    ),
    (
        "weak-password-hash",
        'const h = crypto.createHash("sha1").update(user.passwd).digest("hex");',
        'const h = crypto.createHash("sha256").update(user.passwd).digest("hex");',
    ),
    ("hardcoded-credential", 'const apiKey = "sk-live-4f9a8b7c6d5e";', "const apiKey = process.env.API_KEY;"),
    ("hardcoded-credential", 'const config = { password: "hunter2" };', 'const config = { password: "" };'),
    ("hardcoded-credential", 'user.authToken = "abcdef123456";', 'user.authToken = "changeme";'),
    ("inner-html-non-literal", "element.innerHTML = comment.body;", 'element.innerHTML = "<b>Saved</b>";'),
    ("inner-html-non-literal", "document.write(message);", 'document.write("<p>hello</p>");'),
    ("inner-html-non-literal", "el.outerHTML = `<p>${name}</p>`;", "el.textContent = name;"),
    (
        "inner-html-non-literal",
        'el.insertAdjacentHTML("beforeend", rowHtml);',
        'el.insertAdjacentHTML("beforeend", "<hr>");',
    ),
    ("inner-html-non-literal", "table.innerHTML += row;", "table.textContent += row;"),
]
_JSX_SAMPLE = (
    "dangerously-set-inner-html",
    "const a = <div dangerouslySetInnerHTML={{ __html: comment.body }} />;",
    'const a = <div dangerouslySetInnerHTML={{ __html: "<b>static</b>" }} />;',
)

SAMPLES: list[tuple[str, str, str, str]] = [
    # (rule id, document language, code that must match, code that must not)
    ("python.eval-non-literal", "python", "result = eval(user_input)\n", 'result = eval("1 + 1")\n'),
    ("python.eval-non-literal", "python", 'exec(f"x = {value}")\n', 'exec("import os" "")\n'),
    ("python.subprocess-shell-true", "python", "subprocess.run(cmd, shell=True)\n", 'subprocess.run(["ls", d])\n'),
    ("python.os-system-non-literal", "python", 'os.system(f"rm -rf {path}")\n', 'os.system("clear")\n'),
    ("python.os-system-non-literal", "python", "pipe = os.popen(command)\n", 'pipe = os.popen("uptime")\n'),
    ("python.pickle-load", "python", "obj = pickle.loads(request.body)\n", "obj = json.loads(request.body)\n"),
    ("python.pickle-load", "python", "obj = pickle.load(f)\n", "pickle.dump(obj, f)\n"),
    ("python.yaml-unsafe-load", "python", "cfg = yaml.load(f)\n", "cfg = yaml.load(f, Loader=yaml.SafeLoader)\n"),
    ("python.yaml-unsafe-load", "python", "cfg = yaml.unsafe_load(f)\n", "cfg = yaml.safe_load(f)\n"),
    ("python.yaml-unsafe-load", "python", "cfg = yaml.full_load(f)\n", "cfg = yaml.load(f, yaml.CSafeLoader)\n"),
    (
        "python.sql-formatted",
        "python",
        'cur.execute(f"SELECT * FROM users WHERE id = {uid}")\n',
        'cur.execute("SELECT * FROM users WHERE id = %s", (uid,))\n',
    ),
    (
        "python.sql-formatted",
        "python",
        'cur.execute("SELECT * FROM users WHERE id = %s" % uid)\n',
        'cur.execute("SELECT * FROM users")\n',
    ),
    (
        "python.sql-formatted",
        "python",
        'cur.execute("SELECT * FROM users WHERE id = {}".format(uid))\n',
        'cur.execute(QUERY, {"id": uid})\n',
    ),
    (
        "python.sql-formatted",
        "python",
        'cur.execute("DELETE FROM users WHERE id = " + uid)\n',
        "total = calc.execute(a + b)\n",
    ),
    (
        "python.tls-verification-disabled",
        "python",
        "r = requests.get(url, verify=False)\n",
        "r = requests.get(url, verify=True)\n",
    ),
    (
        "python.tls-verification-disabled",
        "python",
        "ctx = ssl._create_unverified_context()\n",
        "ctx = ssl.create_default_context()\n",
    ),
    ("python.tls-verification-disabled", "python", "ctx.check_hostname = False\n", "ctx.check_hostname = True\n"),
    (
        "python.tls-verification-disabled",
        "python",
        "ctx.verify_mode = ssl.CERT_NONE\n",
        "ctx.verify_mode = ssl.CERT_REQUIRED\n",
    ),
    (
        "python.weak-password-hash",
        "python",
        "h = hashlib.md5(password.encode()).hexdigest()\n",
        "h = hashlib.md5(file_bytes).hexdigest()\n",
    ),
    (
        "python.weak-password-hash",
        "python",
        'h = hashlib.new("sha1", user.passwd)\n',
        "h = hashlib.sha256(password.encode())\n",
    ),
    (
        "python.hardcoded-credential",
        "python",
        'DB_PASSWORD = "s3cr3t-value"\n',
        'DB_PASSWORD = os.environ["DB_PASSWORD"]\n',
    ),
    ("python.hardcoded-credential", "python", 'client = Client(api_key="sk-4f9a8b7c6d5e")\n', 'api_key = "changeme"\n'),
    ("python.hardcoded-credential", "python", 'self.secret = "abc123xyz"\n', 'tokenizer = "bert-base"\n'),
    *[(f"javascript.{rule}", "javascript", hit, miss) for rule, hit, miss in _JS_SAMPLES],
    (f"javascript.{_JSX_SAMPLE[0]}", "javascriptreact", _JSX_SAMPLE[1], _JSX_SAMPLE[2]),
    *[(f"typescript.{rule}", "typescript", hit, miss) for rule, hit, miss in _JS_SAMPLES],
    (f"typescript.{_JSX_SAMPLE[0]}", "typescriptreact", _JSX_SAMPLE[1], _JSX_SAMPLE[2]),
    (
        "go.exec-shell-command",
        "go",
        'func f() { exec.Command("sh", "-c", "ls " + dir) }',
        'func f() { exec.Command("ls", dir) }',
    ),
    (
        "go.exec-shell-command",
        "go",
        'func f() { exec.CommandContext(ctx, "bash", "-c", cmd) }',
        'func f() { exec.Command("sh", "-c", "ls -l") }',
    ),
    (
        "go.sql-sprintf",
        "go",
        'func f() { db.Query(fmt.Sprintf("SELECT * FROM users WHERE id = %s", id)) }',
        'func f() { db.Query("SELECT * FROM users WHERE id = $1", id) }',
    ),
    (
        "go.sql-sprintf",
        "go",
        'func f() { db.Exec("DELETE FROM users WHERE id = " + id) }',
        "func f() { db.Exec(deleteUser, id) }",
    ),
    (
        "go.tls-insecure-skip-verify",
        "go",
        "var c = &tls.Config{InsecureSkipVerify: true}",
        "var c = &tls.Config{InsecureSkipVerify: false}",
    ),
    (
        "go.tls-insecure-skip-verify",
        "go",
        "func f() { cfg.InsecureSkipVerify = true }",
        "func f() { cfg.MinVersion = 3 }",
    ),
    (
        "go.weak-password-hash",
        "go",
        "func f() { h := md5.Sum([]byte(password)) }",
        "func f() { h := md5.Sum(data) }",
    ),
    (
        "go.weak-password-hash",
        "go",
        "func f() { h := sha1.Sum([]byte(u.Passwd)) }",
        "func f() { h := sha256.Sum256([]byte(password)) }",
    ),
    (
        "go.hardcoded-credential",
        "go",
        'func f() { apiKey := "sk-4f9a8b7c6d5e" }',
        'func f() { apiKey := os.Getenv("API_KEY") }',
    ),
    ("go.hardcoded-credential", "go", 'var dbPassword = "s3cret-value"', 'var dbPassword = ""'),
    ("go.hardcoded-credential", "go", 'var c = Config{Password: "hunter22"}', 'var c = Config{Password: "changeme"}'),
    (
        "rust.sql-format",
        "rust",
        'fn f() { let r = sqlx::query(&format!("SELECT * FROM users WHERE id = {}", id)); }',
        'fn f() { let r = sqlx::query("SELECT * FROM users WHERE id = $1").bind(id); }',
    ),
    (
        "rust.sql-format",
        "rust",
        'fn f() { client.execute(&format!("DELETE FROM users WHERE id = {id}"), &[]); }',
        'fn f() { let s = format!("{}", id); }',
    ),
    (
        "rust.tls-accept-invalid-certs",
        "rust",
        "fn f() { let c = Client::builder().danger_accept_invalid_certs(true).build(); }",
        "fn f() { let c = Client::builder().danger_accept_invalid_certs(false).build(); }",
    ),
    ("rust.unsafe-block", "rust", "fn f() { unsafe { libc::free(p) } }", 'fn f() { let s = "unsafe"; }'),
    (
        "java.runtime-exec-concat",
        "java",
        'class A { void f() { Runtime.getRuntime().exec("ls " + dir); } }',
        'class A { void f() { Runtime.getRuntime().exec(new String[]{"ls", dir}); } }',
    ),
    (
        "java.sql-concat",
        "java",
        'class A { void f() { stmt.executeQuery("SELECT * FROM users WHERE id = " + id); } }',
        'class A { void f() { conn.prepareStatement("SELECT * FROM users WHERE id = ?"); } }',
    ),
    (
        "java.sql-concat",
        "java",
        'class A { void f() { conn.createStatement().execute("DELETE FROM users WHERE id = " + id); } }',
        "class A { void f() { stmt.execute(query); } }",
    ),
    (
        "java.tls-trust-all",
        "java",
        "class A { void f() { conn.setHostnameVerifier((host, session) -> true); } }",
        'class A { void f() { conn.setHostnameVerifier((host, session) -> host.equals("a.example")); } }',
    ),
    (
        "java.tls-trust-all",
        "java",
        "class T { public void checkServerTrusted(X509Certificate[] chain, String authType) { } }",
        "class T { public void checkServerTrusted(X509Certificate[] chain, String authType) { check(chain); } }",
    ),
    (
        "java.tls-trust-all",
        "java",
        "class V { public boolean verify(String host, SSLSession session) { return true; } }",
        "class V { public boolean verify(String host, SSLSession session) { return ok(host); } }",
    ),
    (
        "java.weak-password-hash",
        "java",
        'class A { byte[] hashPassword(String password) { return MessageDigest.getInstance("MD5").digest(b); } }',
        'class A { byte[] checksum(byte[] data) { return MessageDigest.getInstance("SHA-1").digest(data); } }',
    ),
    (
        "java.hardcoded-credential",
        "java",
        'class A { private static final String API_KEY = "sk-4f9a8b7c6d5e"; }',
        'class A { private static final String API_KEY = System.getenv("API_KEY"); }',
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "language", "hit", "miss"), SAMPLES, ids=[f"{s[0]}-{i}" for i, s in enumerate(SAMPLES)]
)
def test_shipped_rule_matches_its_sample_and_not_the_other(
    shipped: RuleSet, rule_id: str, language: str, hit: str, miss: str
) -> None:
    assert rule_id in ids(find(shipped, language, hit)), f"{rule_id} does not match {hit!r}"
    assert rule_id not in ids(find(shipped, language, miss)), f"{rule_id} matches {miss!r}"


def test_every_shipped_rule_has_samples_and_every_file_loads_cleanly(shipped: RuleSet) -> None:
    assert shipped.problems == ()
    shipped_ids = {r.id for r in shipped.rules}
    assert shipped_ids == {s[0] for s in SAMPLES}
    files = sorted(p.name for p in checks.SHIPPED_DIRECTORY.glob("*.yml"))
    assert files == ["go.yml", "java.yml", "javascript.yml", "python.yml", "rust.yml", "typescript.yml"]
    for rule in shipped.rules:
        assert rule.origin == "shipped"
        assert rule.message and rule.message != rule.id
        assert rule.severity in ("warning", "error")
        assert rule.id.split(".")[0] in ("python", "javascript", "typescript", "go", "rust", "java")


def test_languages_lsp_ids_and_aliases(shipped: RuleSet) -> None:
    assert ast_grep_language("typescriptreact") == "tsx"
    assert ast_grep_language("javascriptreact") == "javascript"
    assert ast_grep_language("shellscript") == "bash"
    assert ast_grep_language("golang") == "go"
    assert ast_grep_language("toml") is None
    # typescript rules also run on tsx documents; javascript rules do not run on typescript.
    tsx = {r.id for r in shipped.for_language("typescriptreact")}
    assert "typescript.eval-non-literal" in tsx and "typescript.dangerously-set-inner-html" in tsx
    assert not any(r.startswith("javascript.") for r in tsx)
    assert find(shipped, "toml", "eval(x)") == []  # no grammar: nothing, and no panic
    assert find(shipped, "markdown", "eval(x)") == []  # a grammar but no rules


# --------------------------------------------------------------------------- #
# Loading user rules


def test_project_rules_load_with_their_origin_and_run(tmp_path: Path) -> None:
    write(
        tmp_path / "rules",
        "team.yml",
        """
        id: team.no-print
        language: py
        severity: info
        message: use logging instead of print($$$ARGS)
        rule:
          pattern: print($$$ARGS)
        """,
    )
    rule_set = load_rules(shipped=False, directories=[(tmp_path / "rules", "project")])
    assert rule_set.problems == ()
    (rule,) = rule_set.rules
    assert (rule.language, rule.origin, rule.line) == ("python", "project", 1)
    (finding,) = find(rule_set, "python", "x = 1\nprint('a', 2)\n")
    assert finding.severity == "info" and finding.origin == "project"
    assert finding.message == "use logging instead of print('a', 2)"
    assert (finding.start_line, finding.start_column, finding.end_line, finding.end_column) == (1, 0, 1, 13)


def test_bad_yaml_unknown_key_language_and_rule_body_are_problems_and_the_rest_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mixed.yml",
        """
        id: ok.first
        language: python
        rule: { pattern: first($A) }
        ---
        id: bad.yaml
        language: python
        rule: { pattern: [unclosed
        ---
        id: bad.key
        language: python
        patern: x
        rule: { pattern: x }
        ---
        id: bad.language
        language: pyhton
        rule: { pattern: x }
        ---
        id: bad.body
        language: python
        rule:
          all:
            - kind: call
            - kind: no_such_kind
        ---
        id: bad.severity
        language: python
        severity: fatal
        rule: { pattern: x }
        ---
        - just
        - a list
        ---
        id: ok.last
        language: python
        severity: off
        rule: { pattern: last($A) }
        ---
        id: ok.really-last
        language: python
        rule: { pattern: really_last($A) }
        """,
    )
    rule_set = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert [r.id for r in rule_set.rules] == ["ok.first", "ok.really-last"]
    assert rule_set.disabled == ("ok.last",)  # severity: off
    by_line = {p.line: p.message for p in rule_set.problems}
    assert all(p.path == tmp_path / "mixed.yml" for p in rule_set.problems)
    assert set(by_line) == {7, 11, 15, 23, 27, 30}, rule_set.problems
    assert by_line[7].startswith("invalid YAML")
    assert by_line[11] == "rule 'bad.key': unknown key 'patern'"
    assert "unknown language 'pyhton'" in by_line[15] and "did you mean 'python'" in by_line[15]
    assert "ast-grep" in by_line[23] and "no_such_kind" in by_line[23] and "Stack backtrace" not in by_line[23]
    assert "severity" in by_line[27] and "did you mean" not in by_line[27]
    assert "mapping" in by_line[30]
    assert ids(find(rule_set, "python", "first(1)\nreally_last(2)\nlast(3)\n")) == ["ok.first", "ok.really-last"]


def test_problem_columns_point_at_the_key(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "id: a\nlanguage: python\nrule: {pattern: x}\nmessage: m\n  # comment\nfiles: [1]\n")
    (problem,) = load_rules(shipped=False, directories=[(tmp_path, "user")]).problems
    assert (problem.line, problem.column) == (6, 9)  # the first item of files
    assert str(problem).startswith(f"{tmp_path / 'a.yml'}:6:9: rule 'a': files[1]")


def test_disabled_ids_patterns_and_unknown_ones(shipped: RuleSet) -> None:
    rule_set = load_rules(disabled=["python.eval-non-literal", "go.*", "python.no-such-rule"])
    assert "python.eval-non-literal" not in {r.id for r in rule_set.rules}
    assert not any(r.id.startswith("go.") for r in rule_set.rules)
    assert "python.eval-non-literal" in rule_set.disabled
    assert rule_set.unknown_disabled == ("python.no-such-rule",)
    (problem,) = rule_set.problems
    assert problem.path is None and "python.no-such-rule" in problem.message
    assert find(rule_set, "python", "eval(x)\n") == []
    assert ids(find(shipped, "python", "eval(x)\n")) == ["python.eval-non-literal"]


def test_an_id_already_used_is_a_problem_and_the_first_rule_stays(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "id: python.eval-non-literal\nlanguage: python\nrule: {pattern: nothing()}\n")
    rule_set = load_rules(directories=[(tmp_path, "project")])
    (problem,) = rule_set.problems
    assert "already used" in problem.message and problem.line == 1
    (rule,) = [r for r in rule_set.rules if r.id == "python.eval-non-literal"]
    assert rule.origin == "shipped"


def test_files_and_ignores_apply_when_a_path_is_given(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yml",
        """
        id: only-src
        language: python
        files: ["src/**/*.py"]
        ignores: ["**/test_*.py"]
        rule: { pattern: print($A) }
        """,
    )
    rule_set = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert ids(find(rule_set, "python", "print(1)", path="src/a/b.py")) == ["only-src"]
    assert find(rule_set, "python", "print(1)", path="lib/b.py") == []
    assert find(rule_set, "python", "print(1)", path="src/a/test_b.py") == []
    assert ids(find(rule_set, "python", "print(1)")) == ["only-src"]  # no path: every rule runs


def test_loads_are_cached_by_mtime_and_size(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yml", "id: a\nlanguage: python\nrule: {pattern: a()}\n")
    first = load_rules(shipped=False, directories=[(tmp_path, "project")])
    again = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert again.rules[0] is first.rules[0]
    path.write_text("id: b\nlanguage: python\nrule: {pattern: b()}\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    changed = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert [r.id for r in changed.rules] == ["b"]


# --------------------------------------------------------------------------- #
# Hostile rule directories (rule files come from untrusted repositories)


def test_a_symlink_out_of_the_directory_is_refused_and_one_inside_is_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere", "secret.yml", "id: out\nlanguage: python\nrule: {pattern: x}\n")
    rules_dir = tmp_path / "repo" / ".assistant-router" / "rules"
    inside = write(rules_dir, "real.yaml", "id: in\nlanguage: python\nrule: {pattern: y}\n")
    (rules_dir / "escape.yml").symlink_to(outside)
    (rules_dir / "alias.yml").symlink_to(inside)
    (rules_dir / "broken.yml").symlink_to(tmp_path / "missing.yml")
    rule_set = load_rules(shipped=False, directories=[(rules_dir, "project")])
    assert [r.id for r in rule_set.rules] == ["in"]  # alias.yml is real.yaml again: the id once
    messages = {p.path.name: p.message for p in rule_set.problems if p.path}
    assert "outside the rules directory" in messages["escape.yml"]
    assert "cannot read" in messages["broken.yml"]
    assert "already used" in messages["real.yaml"]


def test_a_huge_file_too_many_rules_a_fifo_and_bad_bytes_are_problems(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yml"
    huge.write_text("# " + "x" * (checks.MAX_FILE_BYTES + 10) + "\n", encoding="utf-8")
    many = "".join(f"---\nid: r{i}\nlanguage: python\nrule: {{pattern: f{i}()}}\n" for i in range(501))
    (tmp_path / "many.yml").write_text(many, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.yml")
    (tmp_path / "tagged.yml").write_text("id: t\nlanguage: python\nrule: !!python/object:os.system {pattern: x}\n")
    (tmp_path / "latin1.yml").write_bytes("id: a\nmessage: caf\xe9\n".encode("latin-1"))
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdef", "bcdefg")
    )
    (tmp_path / "bomb.yml").write_text(
        "id: bomb\nlanguage: python\nrule: {pattern: x}\nmetadata:\n" + textwrap.indent(bomb, "  ")
    )
    started = time.monotonic()
    rule_set = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert time.monotonic() - started < 10
    messages = {p.path.name: p.message for p in rule_set.problems if p.path}
    assert "at most" in messages["huge.yml"]
    assert "more than 500 rules" in messages["many.yml"]
    assert "not a regular file" in messages["pipe.yml"]
    assert "UTF-8" in messages["latin1.yml"]
    assert "too many YAML nodes" in messages["bomb.yml"]
    assert "unsupported YAML tag" in messages["tagged.yml"]
    assert len(rule_set.rules) == 500


def test_a_missing_directory_is_not_a_problem(tmp_path: Path) -> None:
    rule_set = load_rules(shipped=False, directories=[(tmp_path / "none", "user")])
    assert rule_set.rules == () and rule_set.problems == ()


# --------------------------------------------------------------------------- #
# Findings


def test_added_findings_ignores_a_finding_that_moved_and_reports_new_ones(shipped: RuleSet) -> None:
    before = "import os\n\ndef f(cmd):\n    os.system(cmd)\n"
    after = "import os\n\n\n# moved down\ndef f(cmd):\n    os.system( cmd )\n\n\ndef g(x):\n    return eval(x)\n"
    added = added_findings(shipped, "python", before, after)
    assert ids(added) == ["python.eval-non-literal"]
    assert (added[0].start_line, added[0].start_column, added[0].text) == (9, 11, "eval(x)")
    # A second copy of a finding that was there is new.
    twice = added_findings(shipped, "python", before, before + "    os.system(cmd)\n")
    assert [(f.rule_id, f.start_line) for f in twice] == [("python.os-system-non-literal", 4)]
    assert added_findings(shipped, "python", after, before) == []


def test_rust_unsafe_is_reported_only_where_added(shipped: RuleSet) -> None:
    before = "fn a() { unsafe { f() } }\n"
    assert added_findings(shipped, "rust", before, "fn z() {}\n" + before) == []
    added = added_findings(shipped, "rust", before, before + "fn b() { unsafe { g() } }\n")
    assert ids(added) == ["rust.unsafe-block"] and added[0].start_line == 1
    assert ids(find(shipped, "rust", "fn c() { unsafe { unsafe { h() } } }")) == ["rust.unsafe-block"]  # outermost


def test_message_and_fix_expand_metavariables(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fix.yml",
        """
        id: md5-to-sha256
        language: python
        message: "$FN is weak for $$$ARGS (no $MISSING)"
        note: use sha256
        fix: hashlib.sha256($$$ARGS)
        url: https://example.invalid/md5
        rule:
          pattern: $FN($$$ARGS)
        constraints:
          FN: { regex: ^hashlib\\.md5$ }
        """,
    )
    rule_set = load_rules(shipped=False, directories=[(tmp_path, "user")])
    assert rule_set.problems == ()
    (finding,) = find(rule_set, "python", "h = hashlib.md5(b'x', usedforsecurity=False)\n")
    assert finding.message == "hashlib.md5 is weak for b'x', usedforsecurity=False (no $MISSING)"
    assert finding.fix == "hashlib.sha256(b'x', usedforsecurity=False)"
    assert (finding.note, finding.url, finding.origin, finding.severity) == (
        "use sha256",
        "https://example.invalid/md5",
        "user",
        "warning",
    )


def test_positions_are_code_points_after_non_ascii_text(shipped: RuleSet) -> None:
    text = 's = "é😀"; x = eval(s)\n'
    (finding,) = find(shipped, "python", text)
    assert (finding.start_line, finding.start_column, finding.end_column) == (0, 14, 21)
    assert text[finding.start_index : finding.end_index] == finding.text == "eval(s)"


def test_importing_the_package_does_not_import_ast_grep_or_ruamel() -> None:
    code = (
        "import sys, assistant_router.engine.checks as c\n"
        "assert 'ast_grep_py' not in sys.modules and 'ruamel' not in sys.modules\n"
        "assert not any(m.startswith(('pygls', 'assistant_router.server')) for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- #
# Speed: the whole check stage on a 2,000-line file (the goal is under 100 ms; 1 s here for slow CI)


def _big_python(lines: int, extra: str = "") -> str:
    block = textwrap.dedent(
        """
        def handler_{i}(request, cursor, password_{i}):
            \"\"\"Handle request {i}.\"\"\"
            rows = cursor.execute("SELECT * FROM t WHERE id = %s", (request.id,))
            data = yaml.safe_load(request.body)
            digest = hashlib.sha256(password_{i}.encode()).hexdigest()
            subprocess.run(["ls", request.path], check=True)
            return {{"rows": rows, "digest": digest, "n": {i} + len(data)}}
        """
    )
    text = "import hashlib\nimport os\nimport subprocess\nimport yaml\n" + extra
    i = 0
    while text.count("\n") < lines:
        text += block.format(i=i)
        i += 1
    return text


def test_added_findings_on_2000_lines_is_fast(shipped: RuleSet) -> None:
    # Every shipped Python rule finds something in both texts (the worst case: both
    # parses and every rule on both), plus one new finding.
    every_rule = "".join(s[2] for s in SAMPLES if s[1] == "python")
    before = _big_python(2000, every_rule)
    after = before.replace("def handler_7(", "def handler_7b(") + "result = eval(user_input + 'x')\n"
    assert before.count("\n") >= 2000
    assert {r.id for r in shipped.for_language("python")} <= set(ids(find(shipped, "python", before)))
    added_findings(shipped, "python", before, after)  # warm-up: imports
    checks._ROOTS.clear()  # both texts parsed again: the cold figure
    started = time.thread_time()
    added = added_findings(shipped, "python", before, after)
    elapsed = time.thread_time() - started
    assert ids(added) == ["python.eval-non-literal"]
    assert elapsed < 1.0, f"added_findings took {elapsed * 1000:.0f} ms"


def test_each_new_parse_hands_the_interpreter_lock_over(shipped: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    # ast-grep's parse holds the lock from start to end; after each one a waiting
    # thread (the event loop) gets its turn, not only after the check's last parse.
    from assistant_router.engine.checks.stage import Proposal, check_proposal
    from assistant_router.routing.policy import CheckSettings

    turns: list[str] = []
    monkeypatch.setattr(checks, "let_others_run", lambda: turns.append("turn"))
    checks._ROOTS.clear()
    before = "import os\n\ndef run(cmd):\n    os.system(cmd)\n    return cmd\n"
    after = before.replace("return cmd", "return os.system(cmd)")
    added_findings(shipped, "python", before, after)
    assert turns == ["turn", "turn"]  # the answer's edited part, then the document's (it had a finding too)
    added_findings(shipped, "python", before, after)
    assert turns == ["turn", "turn"]  # both parses kept: nothing held the lock for long
    checks._ROOTS.clear()
    turns.clear()
    report = check_proposal(Proposal("file:///x.py", "python", "x.py", before, after), CheckSettings())
    assert not report.passed
    assert turns == ["turn"] * 3  # after the syntax check, and after each of the rules' two parses


def _reference_added(rule_set: RuleSet, language: str, before: str, after: str) -> Counter[tuple[str, str]]:
    """added_findings by its definition: every rule on the whole of both texts, multisets compared."""
    return Counter(checks._key(f) for f in find(rule_set, language, after)) - Counter(
        checks._key(f) for f in find(rule_set, language, before)
    )


def _checked_added(rule_set: RuleSet, language: str, before: str, after: str) -> Counter[tuple[str, str]]:
    added = added_findings(rule_set, language, before, after)
    assert set(added) <= set(find(rule_set, language, after))  # real findings of `after`, positions and all
    return Counter(checks._key(f) for f in added)


@pytest.mark.parametrize("language", ["python", "javascript", "go"])
def test_added_findings_on_changed_top_level_nodes_equals_the_whole_text_comparison(
    shipped: RuleSet, language: str
) -> None:
    samples = [(hit, miss) for _, lang, hit, miss in SAMPLES if lang == language]
    header = "package main\n" if language == "go" else ""
    pieces = [p for pair in samples for p in pair]
    rng = random.Random(7)
    for _ in range(40):
        before_pieces = rng.sample(pieces, k=min(12, len(pieces)))
        after_pieces = list(before_pieces)
        for _ in range(rng.randint(1, 3)):
            action = rng.choice(["insert", "delete", "move", "break", "fix"])
            at = rng.randrange(len(after_pieces) + 1)
            if action == "insert":
                after_pieces.insert(at, rng.choice(pieces))
            elif action == "delete" and after_pieces:
                after_pieces.pop(min(at, len(after_pieces) - 1))
            elif action == "move" and after_pieces:
                after_pieces.insert(at, after_pieces.pop(rng.randrange(len(after_pieces))))
            elif action == "break":  # an unclosed string: the rest of the file parses differently
                after_pieces.insert(at, 'x = """\n' if language == "python" else "s = `\n")
            elif action == "fix" and len(after_pieces) > 1:
                after_pieces[at % len(after_pieces)] = "    " + after_pieces[at % len(after_pieces)]
        before = header + "\n".join(before_pieces) + "\n"
        after = header + "\n".join(after_pieces) + "\n"
        # (When a finding is there twice and was once, either copy is the new one: the
        # reference reports the last, added_findings the one in the edited part.)
        assert _checked_added(shipped, language, before, after) == _reference_added(shipped, language, before, after)
        # and the other way round: an edit that closes the string makes the rest code again
        assert _checked_added(shipped, language, after, before) == _reference_added(shipped, language, after, before)


def test_a_rule_that_looks_at_neighbours_runs_on_the_whole_text(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yml",
        """
        id: call-after-import
        language: python
        rule:
          kind: expression_statement
          has: { pattern: run($A) }
          follows: { pattern: import danger, stopBy: end }
        """,
    )
    rule_set = load_rules(shipped=False, directories=[(tmp_path, "project")])
    assert not rule_set.rules[0].local
    before = "run(1)\n\ndef f():\n    pass\n"
    after = "import danger\n" + before
    # run(1) itself did not change, but now it follows the import: a new finding.
    assert ids(added_findings(rule_set, "python", before, after)) == ["call-after-import"]
