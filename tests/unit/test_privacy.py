"""Excluded files and secret redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_router.engine.privacy import ExclusionRules, Redactions
from assistant_router.routing.policy import PrivacySettings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n/dist\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".gitignore").write_text("generated.py\n!important.log\n")
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("scratch/\n")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("main.py", None),
        ("debug.log", "git"),
        ("keep.log", None),  # negated
        ("build/out.py", "git"),
        ("src/build/out.py", "git"),  # a directory pattern at any depth
        ("dist/bundle.js", "git"),
        ("src/dist/bundle.js", None),  # anchored to the root
        ("app/generated.py", "git"),  # a nested .gitignore
        ("generated.py", None),  # …applies only below its folder
        ("app/important.log", None),  # re-included by the deeper file
        ("scratch/notes.py", "git"),  # .git/info/exclude
        (".git/config", ".git"),
        ("secrets/prod.py", "policy"),
        ("config/prod.env", "policy"),
    ],
)
def test_exclusions(root, path, excluded):
    rules = ExclusionRules(root, PrivacySettings(exclude=("secrets/", "*.env")), "/repo/.assistant-router.toml")
    reason = rules.reason(path)
    if excluded is None:
        assert reason is None
    else:
        assert reason is not None and {"git": "ignored by git", ".git": "inside .git",
                                       "policy": "privacy.exclude in /repo/.assistant-router.toml"}[excluded] in reason


def test_gitignore_can_be_switched_off_and_is_reread_when_it_changes(root):
    assert ExclusionRules(root, PrivacySettings(gitignore=False)).reason("debug.log") is None
    rules = ExclusionRules(root, PrivacySettings())
    assert rules.reason("notes.md") is None
    (root / ".gitignore").write_text("*.md\n")
    import os

    os.utime(root / ".gitignore", (1, 1))  # a new mtime, as an editor's save gives
    assert rules.reason("notes.md") is not None


SECRETS = [
    ("private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmUAAAAEbm9uZQ==\n"
                    "-----END OPENSSH PRIVATE KEY-----"),
    ("AWS access key", "AKIA" + "Q7ZRT4MXP2KD9WBN"),
    ("GitHub token", "ghp_" + "A1b2C3d4" * 5),
    ("Anthropic key", "sk-ant-api03-" + "x" * 40),
    ("OpenAI key", "sk-proj-" + "Ab3" * 15),
    ("Slack token", "xoxb-1234567890-abcdefghij"),
    ("Google API key", "AIza" + "B" * 35),
    ("Stripe key", "sk_live_" + "9" * 24),
    ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
]


@pytest.mark.parametrize(("kind", "secret"), SECRETS, ids=[k for k, _ in SECRETS])
def test_secrets_are_replaced_counted_and_restored(kind, secret):
    text = f"config = load()\nvalue = {secret!r}\nprint(value)\n"
    redactions = Redactions()
    redacted = redactions.redact(text)
    assert secret not in redacted and "REDACTED_SECRET_1" in redacted
    assert redactions.summary() == {kind: 1}
    assert redacted.count("\n") == text.count("\n")  # line numbers still match
    assert redactions.restore(redacted) == text


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ('password = "correct horse battery"\n', "password", "correct horse battery"),
        ("DB_PASSWORD: 'hunter2hunter2'\n", "password", "hunter2hunter2"),
        ('conn = "postgresql://app:s3cr3t-pw@db.internal:5432/app"\n', "password in a URL", "s3cr3t-pw"),
        ('client_secret := "0123456789abcdef"\n', "password", "0123456789abcdef"),
    ],
)
def test_passwords_in_assignments_and_urls(text, kind, secret):
    redactions = Redactions()
    assert secret not in redactions.redact(text)
    assert redactions.summary() == {kind: 1}


def test_high_entropy_values_only_in_env_like_files():
    text = "CALLBACK_NONCE=q8Zt3LmX9vWc2RpN7yKd41\nDEBUG=true\nNAME=aaaaaaaaaaaaaaaaaaaa\n"
    env = Redactions()
    assert (
        env.redact(text, env_like=True) == "CALLBACK_NONCE=REDACTED_SECRET_1\nDEBUG=true\nNAME=aaaaaaaaaaaaaaaaaaaa\n"
    )
    assert Redactions().redact(text, path="deploy/.env") == env.redact(text, env_like=True)  # by the file's name
    assert Redactions().redact(text) == text  # in code, such strings are usually not secrets


def test_ordinary_code_is_left_alone():
    code = 'def password_is_valid(password: str) -> bool:\n    return len(password) >= 12\nkey = "name"\n'
    redactions = Redactions()
    assert redactions.redact(code) == code and redactions.count == 0


def test_the_same_secret_gets_the_same_placeholder():
    redactions = Redactions()
    token = "ghp_" + "Z" * 36
    assert redactions.redact(f"a = '{token}'\nb = '{token}'\n") == "a = 'REDACTED_SECRET_1'\nb = 'REDACTED_SECRET_1'\n"
