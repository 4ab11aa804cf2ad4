"""Operator commands through Flask's CLI runner."""

from anon_hosting import tokens


def test_keys_rotate_list_and_retire(app, service):
    runner = app.test_cli_runner()
    old = tokens.issue(tokens.FileClaims("a", "A" * 43, b"k" * 32, 1, None), service.keyring)
    assert "New active key: 2" in runner.invoke(args=["keys", "rotate"]).output
    assert runner.invoke(args=["keys", "list"]).output.splitlines() == ["1", "2  (active)"]
    tokens.verify(old, service.keyring)
    result = runner.invoke(args=["keys", "retire", "2"])
    assert result.exit_code != 0
    assert "Retired key 1." in runner.invoke(args=["keys", "retire", "1"]).output
    assert runner.invoke(args=["keys", "list"]).output.splitlines() == ["2  (active)"]
