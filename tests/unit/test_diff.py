"""engine/diff.py: a change read from a real git repository into files,
added lines and review spans; what a review leaves out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistant_router.engine.diff import (
    ChangedFile,
    Git,
    GitError,
    Hunk,
    SkipRules,
    changed_files,
    default_skip_reason,
    looks_generated,
    near,
    read_new_text,
    resolve_revisions,
    review_spans,
    skip_reason,
)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 41)))
    (root / "gone.py").write_text("x = 1\n")
    (root / "old name.py").write_text("a = 1\nb = 2\nc = 3\nd = 4\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    return root


def commit(root: Path, message: str = "change") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def test_a_commit_is_read_into_files_and_the_new_side_of_each_hunk(repo):
    lines = (repo / "app.py").read_text().splitlines()
    lines[4] = "changed 5"  # a modified line
    lines[20:22] = []  # two lines deleted after line 20
    lines.insert(30, "added")  # an added line
    (repo / "app.py").write_text("\n".join(lines) + "\n")
    (repo / "gone.py").unlink()
    (repo / "old name.py").rename(repo / "new é name.py")
    (repo / "new é name.py").write_text("a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n")
    (repo / 'odd\t"name.py').write_text("print('hi')\n")
    commit(repo)

    git_ = Git(repo)
    files = {f.path: f for f in changed_files(git_, resolve_revisions(git_, "HEAD~1", False))}

    assert set(files) == {"app.py", "gone.py", "new é name.py", 'odd\t"name.py'}
    app = files["app.py"]
    assert app.status == "modified"
    assert sorted(app.added_lines) == [5, 31]  # line numbers of the new file
    assert Hunk(20, 0, 2) in app.hunks  # the deletion, after new line 20
    assert {20, 21} <= app.touched_lines
    assert files["gone.py"].status == "deleted"
    renamed = files["new é name.py"]
    assert (renamed.status, renamed.old_path, sorted(renamed.added_lines)) == ("renamed", "old name.py", [5])
    assert files['odd\t"name.py'].status == "added"


@pytest.mark.parametrize("spec, expected_base", [("HEAD~1", "HEAD~1"), ("HEAD~1..HEAD", "HEAD~1"),
                                                  ("main...feature", "main")])
def test_revisions_are_read_as_git_reads_them(repo, spec, expected_base):
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "app.py").write_text("new\n")
    commit(repo)
    git_ = Git(repo)
    revisions = resolve_revisions(git_, spec, False)
    assert revisions.base == git(repo, "rev-parse", expected_base)
    assert revisions.described == spec


def test_the_default_is_the_merge_base_with_the_default_branch_to_the_working_tree(repo):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "app.py").write_text("committed\n")
    commit(repo)
    (repo / "gone.py").write_text("uncommitted = 2\n")
    git_ = Git(repo)
    revisions = resolve_revisions(git_, None, False)
    assert (revisions.base, revisions.head) == (base, None)
    assert {f.path for f in changed_files(git_, revisions)} == {"app.py", "gone.py"}
    assert read_new_text(git_, revisions, "gone.py") == b"uncommitted = 2\n"


def test_staged_reviews_the_index_not_the_working_tree(repo):
    (repo / "app.py").write_text("staged\n")
    git(repo, "add", "app.py")
    (repo / "app.py").write_text("not staged\n")
    git_ = Git(repo)
    revisions = resolve_revisions(git_, None, True)
    assert [f.path for f in changed_files(git_, revisions)] == ["app.py"]
    assert read_new_text(git_, revisions, "app.py") == b"staged\n"
    assert revisions.head_label == "the index"


@pytest.mark.parametrize("spec, message", [("nope", "'nope' is not a commit"), ("--output=x", "is not a revision")])
def test_a_bad_revision_is_a_usage_error_that_says_why(repo, spec, message):
    with pytest.raises(GitError, match=message):
        resolve_revisions(Git(repo), spec, False)


def test_a_link_out_of_the_repository_is_never_read(repo, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (repo / "link.py").symlink_to(secret)
    commit(repo)
    git_ = Git(repo)
    revisions = resolve_revisions(git_, "HEAD~1", False)
    (link,) = changed_files(git_, revisions)
    assert skip_reason(link) == "a symbolic link"
    working_tree = resolve_revisions(git_, "HEAD~1", False)
    with pytest.raises(OSError, match="outside the repository"):
        read_new_text(git_, working_tree, "link.py")


def test_a_binary_file_is_skipped(repo):
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0\0binary")
    commit(repo)
    git_ = Git(repo)
    (png,) = changed_files(git_, resolve_revisions(git_, "HEAD~1", False))
    assert png.binary and skip_reason(png) == "binary"


@pytest.mark.parametrize("path, reason", [
    ("package-lock.json", "a lock file"), ("rust/Cargo.lock", "a lock file"), ("go.sum", "a lock file"),
    ("vendor/github.com/x/y.go", "vendored"), ("web/node_modules/a/index.js", "vendored"),
    ("static/app.min.js", "generated"), ("proto/api_pb2.py", "generated"), ("dist/bundle.js", "generated"),
    ("src/app.py", None), ("src/vendor.py", None), ("docs/locking.md", None),
])
def test_lock_vendored_and_generated_files_are_skipped_by_default(path, reason):
    assert default_skip_reason(path) == reason


def test_the_policy_skips_more_and_the_user_config_can_include_a_default_skip():
    rules = SkipRules(skip=("migrations/",), include=("vendor/ours/**",), skip_label="[review] skip in policy")
    assert skip_reason(ChangedFile("migrations/0001.py", "added"), rules) == "skipped by [review] skip in policy"
    assert skip_reason(ChangedFile("vendor/ours/lib.go", "added"), rules) is None
    assert skip_reason(ChangedFile("vendor/theirs/lib.go", "added"), rules) == "vendored"
    assert skip_reason(ChangedFile("vendor/ours/lib.go", "deleted"), rules) == "deleted"  # nothing to review
    assert skip_reason(ChangedFile("gen.go", "added"), attributes={"gen.go": {"linguist-generated"}}) == "generated"


@pytest.mark.parametrize("header, generated", [
    ("// Code generated by protoc-gen-go. DO NOT EDIT.\npackage api\n", True),
    ("# @generated by tool\nx = 1\n", True),
    ("def main():\n    pass\n" + "\n" * 10 + "# do not edit below (not a header)\n", False),
])
def test_a_generated_header_is_recognised(header, generated):
    assert looks_generated(header) is generated


def test_close_hunks_are_one_span_and_distant_ones_are_apart():
    lines = [f"x{n} = {n}" * 40 for n in range(1, 1001)]  # long lines: the budget does not join far hunks
    changed = ChangedFile("a.py", "modified", hunks=(Hunk(10, 2), Hunk(20, 1), Hunk(500, 1), Hunk(900, 0, 3)))
    spans = review_spans(changed, lines)
    assert [(s.first, s.last) for s in spans] == [(10, 20), (500, 500), (900, 901)]
    assert spans[0].changed == frozenset({10, 11, 20})
    assert spans[2].changed == frozenset()  # a deletion: the lines either side, none added


def test_small_hunks_are_batched_within_the_budget():
    lines = [f"x = {n}" for n in range(1, 301)]
    changed = ChangedFile("a.py", "modified", hunks=tuple(Hunk(n, 1) for n in range(1, 301, 50)))
    (span,) = review_spans(changed, lines, budget_chars=10_000)
    assert (span.first, span.last) == (1, 251)
    assert len(review_spans(changed, lines, budget_chars=100)) == 6


@pytest.mark.parametrize("first, last, reach, expected", [(10, 10, 3, True), (14, 14, 3, True), (15, 15, 3, False),
                                                           (1, 6, 3, False), (1, 7, 3, True), (40, 40, 0, False)])
def test_near_the_changed_lines(first, last, reach, expected):
    assert near({10, 11}, first, last, reach) is expected


def test_a_hunk_over_the_budget_is_cut_into_pieces_within_it():
    lines = [f"value_{n} = {n}  # {'x' * 80}" for n in range(1, 1001)]
    changed = ChangedFile("data.py", "added", hunks=(Hunk(1, 1000),))
    spans = review_spans(changed, lines, budget_chars=12_000)
    assert spans[0].first == 1 and spans[-1].last == 1000
    assert all(b.first == a.last + 1 for a, b in zip(spans, spans[1:], strict=False))  # no line lost or repeated
    assert all(sum(len(lines[n - 1]) + 1 for n in range(s.first, s.last + 1)) <= 12_000 for s in spans)
    assert all(s.changed == frozenset(range(s.first, s.last + 1)) for s in spans)
    assert len(spans) > 5

